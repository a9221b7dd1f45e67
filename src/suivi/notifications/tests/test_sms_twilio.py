"""Twilio SMS: the channel against a loopback Twilio, and the StatusCallback view.

The fake (``fake_sms.FakeTwilio``) checks the path, Basic auth and required form fields
and answers with Twilio's own shapes; signatures in the callback tests are computed here
with an independent few lines, and the view's signer is pinned to the example published
by Twilio, so a shared mistake cannot agree with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from django.test import Client

from suivi.notifications import channels
from suivi.notifications.channels.base import Outgoing
from suivi.notifications.channels.sms_twilio import TwilioSms, build_form, classify
from suivi.notifications.models import CustomerPreference, OutboxMessage
from suivi.notifications.views_sms import parse_twilio_status, twilio_signature, url_variants
from suivi.shops.models import Shop
from suivi.testing import make_order

from .fake_sms import FakeTwilio, closed_port_url

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://suivi.example.com"
CALLBACK = f"{PUBLIC}/notifications/callbacks/twilio/"
PHONE = "+33612345678"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio(SID, TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def configured(settings, twilio: FakeTwilio) -> FakeTwilio:
    settings.SUIVI_SMS_PROVIDER = "twilio"
    settings.SUIVI_TWILIO_API_URL = twilio.url
    settings.SUIVI_TWILIO_ACCOUNT_SID = SID
    settings.SUIVI_TWILIO_AUTH_TOKEN = TOKEN
    settings.SUIVI_TWILIO_FROM = "+15005550006"
    settings.BASE_URL = PUBLIC
    settings.SUIVI_SMS_TIMEOUT_SECONDS = 2
    channels.reset()
    return twilio


def outgoing(
    recipient: str = PHONE, text: str = "Votre commande est prête.", sender: str = ""
) -> Outgoing:
    return Outgoing(
        message_id=1,
        idempotency_key="k-1",
        shop_id=1,
        channel="sms",
        recipient=recipient,
        content={"text": text, "sender": sender},
    )


# --- sending ------------------------------------------------------------------------


def test_success_sends_twilio_request_format(configured: FakeTwilio) -> None:
    channel = channels.get_channel("sms")
    assert isinstance(channel, TwilioSms)
    assert channel.accepts_idempotency_key is False

    outcome = channel.send(outgoing(sender="MaisonLum"))

    assert outcome.kind == "ok", outcome
    assert outcome.status_code == 201
    assert outcome.provider_message_id == configured.sids[0]
    (request,) = configured.received
    assert request.problem == ""
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"{SID}:{TOKEN}"
    assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert parse_qs(request.body.decode()) == {
        "To": [PHONE],
        "From": ["MaisonLum"],
        "Body": ["Votre commande est prête."],
        "StatusCallback": [CALLBACK],
    }


def test_from_is_the_configured_number_without_a_shop_sender(configured: FakeTwilio) -> None:
    assert TwilioSms().send(outgoing(sender="")).kind == "ok"
    assert configured.received[0].form["From"] == ["+15005550006"]


def test_messaging_service_sid_is_sent_as_such(settings, configured: FakeTwilio) -> None:
    settings.SUIVI_TWILIO_FROM = "MG" + "a" * 32
    assert TwilioSms().send(outgoing()).kind == "ok"
    form = configured.received[0].form
    assert form["MessagingServiceSid"] == ["MG" + "a" * 32]
    assert "From" not in form


def test_no_status_callback_without_a_public_url(settings, configured: FakeTwilio) -> None:
    settings.BASE_URL = ""
    assert TwilioSms().send(outgoing()).kind == "ok"
    assert "StatusCallback" not in configured.received[0].form


def test_invalid_number_is_permanent_and_invalidates(configured: FakeTwilio) -> None:
    outcome = TwilioSms().send(outgoing(recipient="0612345678"))  # not E.164: Twilio says 21211
    assert configured.received[0].status == 400
    assert outcome.kind == "permanent"
    assert outcome.invalidate is True
    assert outcome.status_code == 400
    assert outcome.answer.startswith("21211:")


@pytest.mark.parametrize(
    ("code", "invalidate"),
    [
        (21614, True),  # not a mobile number
        (21612, True),  # not reachable via SMS
        (21635, True),  # landline
        (21610, True),  # the recipient replied STOP
        (21408, False),  # region not enabled on our account: refuse, keep the number
        (21606, False),  # our From cannot send
    ],
)
def test_twilio_error_codes_are_classified(
    configured: FakeTwilio, code: int, invalidate: bool
) -> None:
    configured.answer(
        400,
        {
            "code": code,
            "message": "refused",
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": 400,
        },
    )
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "permanent"
    assert outcome.invalidate is invalidate


def test_rate_limited_is_temporary_with_retry_after(configured: FakeTwilio) -> None:
    configured.answer(
        429,
        {
            "code": 20429,
            "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429",
            "status": 429,
        },
        headers={"Retry-After": "30"},
    )
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.status_code == 429
    assert outcome.retry_after_seconds == 30.0


def test_server_error_is_temporary(configured: FakeTwilio) -> None:
    configured.answer(500, "<html>Internal Server Error</html>")
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.status_code == 500
    assert outcome.retry_after_seconds is None


def test_unavailable_honours_retry_after(configured: FakeTwilio) -> None:
    configured.answer(
        503, {"code": 20500, "message": "Service Unavailable", "status": 503}, {"Retry-After": "7"}
    )
    outcome = TwilioSms().send(outgoing())
    assert (outcome.kind, outcome.retry_after_seconds) == ("temporary", 7.0)


def test_wrong_credentials_are_temporary(settings, configured: FakeTwilio) -> None:
    settings.SUIVI_TWILIO_AUTH_TOKEN = "not-the-token"
    outcome = TwilioSms().send(outgoing())
    assert configured.received[0].status == 401  # the fake really refused the Basic auth
    assert outcome.kind == "temporary"
    assert outcome.status_code == 401
    assert "20003" in outcome.answer


def test_connection_refused_is_temporary(settings, configured: FakeTwilio) -> None:
    settings.SUIVI_TWILIO_API_URL = closed_port_url()
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.status_code is None
    assert outcome.answer.startswith("connection:")


def test_timeout_is_temporary(settings, configured: FakeTwilio) -> None:
    settings.SUIVI_SMS_TIMEOUT_SECONDS = 0.3
    configured.answer(201, {"sid": "SMlate"}, delay=2.0)
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert outcome.answer.startswith("timeout:")


def test_not_configured_is_temporary_and_calls_nobody(settings, configured: FakeTwilio) -> None:
    settings.SUIVI_TWILIO_ACCOUNT_SID = ""
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "temporary"
    assert configured.received == []


def test_pure_classification_edges() -> None:
    assert classify(201, "{}", {}).kind == "ok"  # accepted even without a sid: no resend
    assert classify(404, '{"code": 20404}', {}).kind == "temporary"  # wrong account / URL
    assert classify(302, "", {}).kind == "temporary"
    assert classify(400, "not json", {}).kind == "permanent"
    form = build_form(outgoing(sender="12345"), configured_from="+15005550006", base_url="")
    assert form["From"] == "+15005550006"  # an all-digit "sender" is not an alphanumeric ID


# --- status callback ----------------------------------------------------------------


def sign(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    """Twilio's algorithm, written independently of the view's."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_twilio_published_example() -> None:
    # Twilio's request-validation example: token 12345, this URL and these parameters.
    params = {
        "CallSid": ["CA1234567890ABCDE"],
        "Caller": ["+14158675309"],
        "Digits": ["1234"],
        "From": ["+14158675309"],
        "To": ["+18005551212"],
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_url_variants_cover_the_default_port() -> None:
    assert url_variants("https://a.example/x?y=1") == [
        "https://a.example/x?y=1",
        "https://a.example:443/x?y=1",
    ]
    assert url_variants("https://a.example:443/x") == [
        "https://a.example:443/x",
        "https://a.example/x",
    ]


def test_parse_status_maps_twilio_statuses() -> None:
    delivered = parse_twilio_status({"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert delivered is not None and delivered.delivered and not delivered.failed
    sent = parse_twilio_status({"MessageSid": "SM1", "MessageStatus": "sent"})
    assert sent is not None and not sent.delivered and not sent.failed
    gone = parse_twilio_status(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"}
    )
    assert gone is not None and gone.failed and gone.permanent
    off = parse_twilio_status(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert off is not None and off.failed and not off.permanent
    assert parse_twilio_status({"MessageStatus": "sent"}) is None


@pytest.fixture
def callbacks(settings) -> None:
    settings.ROOT_URLCONF = "suivi.notifications.tests.sms_test_urls"
    settings.SUIVI_TWILIO_AUTH_TOKEN = TOKEN
    settings.BASE_URL = PUBLIC


def make_message(shop: Shop, sid: str, status: str = OutboxMessage.Status.SENT) -> OutboxMessage:
    order = make_order(shop, phone=PHONE)
    return OutboxMessage.objects.create(
        shop=shop,
        order=order,
        customer=order.customer,
        channel="sms",
        recipient=PHONE,
        event_key="shipped",
        event_type="order.shipped",
        idempotency_key=f"sms-{sid}",
        status=status,
        provider_message_id=sid,
    )


def callback_params(sid: str, status: str, error_code: str = "") -> dict[str, str]:
    params = {
        "AccountSid": SID,
        "ApiVersion": "2010-04-01",
        "From": "+15005550006",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": PHONE,
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def post_status(params: dict[str, str], signature: str | None):
    headers = {} if signature is None else {"HTTP_X_TWILIO_SIGNATURE": signature}
    return Client().post("/notifications/callbacks/twilio/", params, **headers)


@pytest.mark.django_db
def test_delivered_callback_with_valid_signature_applies_receipt(callbacks, shop_a: Shop) -> None:
    message = make_message(shop_a, "SM" + "1" * 32)
    params = callback_params(message.provider_message_id, "delivered")
    response = post_status(params, sign(CALLBACK, params))
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DELIVERED
    assert message.receipt_status == "delivered"
    assert message.delivered_at is not None


@pytest.mark.django_db
def test_signature_over_the_request_url_without_base_url(settings, callbacks, shop_a: Shop) -> None:
    settings.BASE_URL = ""
    message = make_message(shop_a, "SM" + "2" * 32)
    params = callback_params(message.provider_message_id, "delivered")
    response = post_status(
        params, sign("http://testserver/notifications/callbacks/twilio/", params)
    )
    assert response.status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DELIVERED


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["wrong token", "missing", "tampered"])
def test_bad_signature_is_refused_and_changes_nothing(callbacks, shop_a: Shop, how: str) -> None:
    message = make_message(shop_a, "SM" + "3" * 32)
    params = callback_params(message.provider_message_id, "delivered")
    signature: str | None = {
        "wrong token": sign(CALLBACK, params, token="someone-else"),
        "missing": None,
        "tampered": sign(CALLBACK, callback_params(message.provider_message_id, "sent")),
    }[how]
    response = post_status(params, signature)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT
    assert message.receipt_status == ""


@pytest.mark.django_db
def test_no_auth_token_configured_refuses_everything(settings, callbacks, shop_a: Shop) -> None:
    settings.SUIVI_TWILIO_AUTH_TOKEN = ""
    message = make_message(shop_a, "SM" + "4" * 32)
    params = callback_params(message.provider_message_id, "delivered")
    assert post_status(params, sign(CALLBACK, params, token="")).status_code == 403


@pytest.mark.django_db
def test_sent_callback_only_records_the_status(callbacks, shop_a: Shop) -> None:
    message = make_message(shop_a, "SM" + "5" * 32)
    params = callback_params(message.provider_message_id, "sent")
    assert post_status(params, sign(CALLBACK, params)).status_code == 204
    message.refresh_from_db()
    assert (message.status, message.receipt_status) == (OutboxMessage.Status.SENT, "sent")


@pytest.mark.django_db
def test_undelivered_transient_error_is_dead_without_invalidating(callbacks, shop_a: Shop) -> None:
    message = make_message(shop_a, "SM" + "6" * 32)
    params = callback_params(message.provider_message_id, "undelivered", "30003")
    assert post_status(params, sign(CALLBACK, params)).status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    assert "30003" in message.last_error
    pref = CustomerPreference.objects.filter(customer=message.customer).first()
    assert pref is None or pref.phone_invalid_at is None


@pytest.mark.django_db
def test_unknown_destination_is_dead_and_invalidates_the_phone(callbacks, shop_a: Shop) -> None:
    message = make_message(shop_a, "SM" + "7" * 32)
    params = callback_params(message.provider_message_id, "failed", "30005")
    assert post_status(params, sign(CALLBACK, params)).status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DEAD
    pref = CustomerPreference.objects.get(customer=message.customer)
    assert pref.phone_invalid_at is not None
    assert "30005" in pref.phone_invalid_reason


@pytest.mark.django_db
def test_unknown_message_sid_is_acknowledged(callbacks, shop_a: Shop) -> None:
    message = make_message(shop_a, "SM" + "8" * 32)
    params = callback_params("SM" + "9" * 32, "delivered")
    assert post_status(params, sign(CALLBACK, params)).status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.SENT


@pytest.mark.django_db
def test_get_is_not_allowed(callbacks) -> None:
    response = Client().get("/notifications/callbacks/twilio/")
    assert response.status_code == 405
    assert response["Allow"] == "POST"


@pytest.mark.django_db
def test_sid_from_a_real_send_comes_back_as_delivered(
    callbacks, configured: FakeTwilio, shop_a: Shop
) -> None:
    outcome = TwilioSms().send(outgoing())
    assert outcome.kind == "ok"
    message = make_message(shop_a, outcome.provider_message_id)
    callback = parse_qs(configured.received[0].body.decode())["StatusCallback"][0]
    params = callback_params(outcome.provider_message_id, "delivered")
    assert post_status(params, sign(callback, params)).status_code == 204
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.DELIVERED
