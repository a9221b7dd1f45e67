"""Settings area: stores and warehouses, carrier accounts (with a real test connection
against a fake carrier on loopback), API keys, webhook endpoints and policies."""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

import pytest
from django.urls import reverse

from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.core import crypto
from suivi.notifications import services as notifications
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.orders.lifecycle import Mode
from suivi.shipments import services as shipments
from suivi.shipments.models import CarrierAccount
from suivi.shops.models import ApiKey, DeliveryPromise, Location, Shop
from suivi.shops.policies import promise_set
from suivi.testing import make_order

from .support import client_for

pytestmark = pytest.mark.django_db

PUBLIC_URL = "https://93.184.216.34/hooks/suivi"
KEY = "okapi-secret-key-0001"


@pytest.fixture(autouse=True)
def _english_and_loopback_carriers(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"
    # Sandbox carrier URLs in these tests point at fake carriers on loopback.
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = ["127.0.0.0/8"]


def url(name: str, shop: Shop, **kwargs: Any) -> str:
    return reverse(f"backoffice:{name}", kwargs={"slug": shop.slug, **kwargs})


def page(response: Any) -> str:
    return response.content.decode()


def followed_messages(response: Any) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# --- index ------------------------------------------------------------------------------------


def test_the_index_links_the_sections_of_the_role(
    shop_a: Shop, owner_a: Any, logistics_a: Any
) -> None:
    owner_page = page(client_for(owner_a).get(url("settings", shop_a)))
    for name in ("settings-locations", "settings-carriers", "settings-api-keys",
                 "settings-webhooks", "settings-policies"):  # fmt: skip
        assert url(name, shop_a) in owner_page
    logistics_page = page(client_for(logistics_a).get(url("settings", shop_a)))
    assert url("settings-carriers", shop_a) in logistics_page
    assert url("settings-api-keys", shop_a) not in logistics_page
    assert url("settings-policies", shop_a) not in logistics_page


# --- stores and warehouses ----------------------------------------------------------------------


def location_form(**changes: str) -> dict[str, str]:
    data = {
        "name": "Paris Marais",
        "code": "paris-marais",
        "kind": "store",
        "address_line1": "5 rue des Francs-Bourgeois",
        "postcode": "75004",
        "city": "Paris",
        "country": "FR",
        "phone": "01 42 72 00 00",
        "is_active": "on",
        "mon_open1": "09:00",
        "mon_close1": "12:30",
        "mon_open2": "14:00",
        "mon_close2": "19:00",
        "sat_open1": "10:00",
        "sat_close1": "18:00",
    }
    return data | changes


def test_the_list_shows_this_shops_locations_only(
    shop_a: Shop, shop_b: Shop, logistics_a: Any
) -> None:
    html = page(client_for(logistics_a).get(url("settings-locations", shop_a)))
    assert "Maison Lumière — boutique" in html and "Épicerie Bleue — boutique" not in html
    assert "Add a location" in html


def test_a_store_is_added_with_opening_hours(shop_a: Shop, logistics_a: Any) -> None:
    client = client_for(logistics_a)
    assert client.get(url("settings-location-new", shop_a)).status_code == 200
    response = client.post(url("settings-location-new", shop_a), location_form(), follow=True)
    assert response.status_code == 200 and "Paris Marais was added." in followed_messages(response)
    location = Location.objects.get(shop=shop_a, code="paris-marais")
    assert location.phone == "+33142720000" and location.is_active
    assert location.opening_hours["mon"] == [["09:00", "12:30"], ["14:00", "19:00"]]
    assert location.opening_hours["sat"] == [["10:00", "18:00"]]
    assert location.opening_hours["sun"] == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"mon_open2": "12:00"}, "overlap"),
        ({"mon_close1": "08:00"}, "after the opening time"),
        ({"tue_open1": "09:00"}, "give both the opening and the closing time"),
        ({"tue_open1": "9h", "tue_close1": "18:00"}, "HH:MM"),
        ({"phone": "12"}, "not a valid phone number"),
        ({"phone": "call us"}, "not a phone number"),
        ({"code": "boutique"}, "has this code"),
        ({"name": ""}, "required"),
    ],
)
def test_bad_location_input_is_shown_and_nothing_is_added(
    shop_a: Shop, owner_a: Any, changes: dict[str, str], words: str
) -> None:
    before = Location.objects.count()
    response = client_for(owner_a).post(
        url("settings-location-new", shop_a), location_form(**changes)
    )
    assert response.status_code == 400
    assert words in page(response)
    assert Location.objects.count() == before


def test_a_location_is_edited_and_a_bad_edit_changes_nothing(shop_a: Shop, owner_a: Any) -> None:
    store = Location.objects.get(shop=shop_a, code="boutique")
    client = client_for(owner_a)
    form = page(client.get(url("settings-location-edit", shop_a, location_id=store.pk)))
    assert 'value="10:00"' in form and "Save location" in form  # Monday's hours prefilled
    bad = client.post(
        url("settings-location-edit", shop_a, location_id=store.pk),
        location_form(code="boutique", mon_open2="11:00"),
    )
    assert bad.status_code == 400
    store.refresh_from_db()
    assert store.name.endswith("boutique") and store.opening_hours["mon"] == [["10:00", "19:00"]]
    good = client.post(
        url("settings-location-edit", shop_a, location_id=store.pk),
        location_form(code="boutique", name="Lyon Presqu’île", is_active=""),
    )
    assert good.status_code == 302
    store.refresh_from_db()
    assert store.name == "Lyon Presqu’île" and not store.is_active
    assert store.opening_hours["mon"] == [["09:00", "12:30"], ["14:00", "19:00"]]


def test_deleting_asks_first_and_a_used_location_is_deactivated(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    make_order(shop_a, mode=Mode.CLICK_AND_COLLECT)
    store = Location.objects.get(shop=shop_a, code="boutique")
    delete = url("settings-location-delete", shop_a, location_id=store.pk)
    confirm = page(client.get(delete))
    assert "Delete location" in confirm and "deactivated instead" in confirm
    assert client.post(delete).status_code == 400  # no confirmation: nothing done
    assert Location.objects.get(pk=store.pk).is_active
    response = client.post(delete, {"confirmed": "1"}, follow=True)
    assert "deactivated instead of deleted" in followed_messages(response)
    assert Location.objects.filter(pk=store.pk, is_active=False).exists()
    unused = Location.objects.get(shop=shop_a, code="entrepot")
    client.post(url("settings-location-delete", shop_a, location_id=unused.pk), {"confirmed": "1"})
    assert not Location.objects.filter(pk=unused.pk).exists()


# --- carrier accounts -----------------------------------------------------------------------------


def _laposte_route(request: Recorded) -> Reply:
    if request.headers.get("x-okapi-key") != KEY:
        return Reply(401, b'{"code":"UNAUTHORIZED","message":"Invalid apikey"}')
    return Reply(
        404, b'{"returnCode":404,"returnMessage":"Numero inconnu","idShip":"6A00000000000"}'
    )


@pytest.fixture
def carrier():
    with FakeCarrier() as fake:
        fake.route = _laposte_route
        yield fake


def test_a_carrier_account_is_added_in_two_steps_and_its_key_never_shown(
    shop_a: Shop, logistics_a: Any, carrier: FakeCarrier
) -> None:
    client = client_for(logistics_a)
    new = url("settings-carrier-new", shop_a)
    assert "Continue" in page(client.get(new))
    form = page(client.get(new, {"carrier": "laposte"}))
    assert 'name="credential_api_key"' in form and 'type="password"' in form
    response = client.post(
        new,
        {"carrier": "laposte", "label": "Colissimo", "base_url": carrier.url,
         "credential_api_key": KEY},
    )  # fmt: skip
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    account = CarrierAccount.objects.get(shop=shop_a)
    assert KEY not in page(response)
    assert shipments.push_secret(account) in page(response)  # the push secret, shown once
    assert KEY not in account.credentials_encrypted
    assert json.loads(crypto.decrypt(account.credentials_encrypted)) == {"api_key": KEY}
    listing = page(client.get(url("settings-carriers", shop_a)))
    assert KEY not in listing and "••••0001" in listing and "Sandbox" in listing
    assert shipments.push_secret(account) not in listing


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"credential_api_key": ""}, "This field is required"),
        ({"base_url": "http://10.1.2.3/"}, "The URL is refused"),
        ({"requests_per_minute": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_carrier_accounts_are_refused(
    shop_a: Shop, owner_a: Any, data: dict[str, str], words: str
) -> None:
    form = {"carrier": "laposte", "label": "", "base_url": "", "credential_api_key": KEY} | data
    response = client_for(owner_a).post(url("settings-carrier-new", shop_a), form)
    assert response.status_code == 400 and words in page(response)
    assert KEY not in page(response)  # a password field is never filled back
    assert not CarrierAccount.objects.exists()
    unknown = client_for(owner_a).get(url("settings-carrier-new", shop_a), {"carrier": "pigeon"})
    assert unknown.status_code == 400


def _account(shop: Shop, base_url: str, key: str = KEY, label: str = "main") -> CarrierAccount:
    account, _push = shipments.account_create(
        shop=shop, carrier="laposte", credentials={"api_key": key}, base_url=base_url, label=label
    )
    return account


def test_test_connection_ok_refused_and_unreachable(
    shop_a: Shop, logistics_a: Any, carrier: FakeCarrier
) -> None:
    client = client_for(logistics_a)
    good = _account(shop_a, carrier.url)
    response = client.post(url("settings-carrier-test", shop_a, account_id=good.pk), follow=True)
    assert "the credentials work" in followed_messages(response)
    assert KEY not in page(response)
    assert carrier.requests[-1].headers["x-okapi-key"] == KEY

    bad = _account(shop_a, carrier.url, key="wrong-key-00000042", label="bad")
    response = client.post(url("settings-carrier-test", shop_a, account_id=bad.pk), follow=True)
    assert "refused the credentials (HTTP 401)" in followed_messages(response)
    html = page(response)
    assert "Authentication error" in html and "wrong-key-00000042" not in html

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    closed, _push = shipments.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": KEY},
        base_url=f"http://127.0.0.1:{port}", label="closed",
    )  # fmt: skip
    response = client.post(url("settings-carrier-test", shop_a, account_id=closed.pk), follow=True)
    assert "could not be reached" in followed_messages(response)
    assert client.get(url("settings-carrier-test", shop_a, account_id=good.pk)).status_code == 405


def test_a_carrier_account_is_deleted_after_confirmation(shop_a: Shop, owner_a: Any) -> None:
    account = _account(shop_a, "")
    client = client_for(owner_a)
    delete = url("settings-carrier-delete", shop_a, account_id=account.pk)
    confirm = page(client.get(delete))
    assert "Delete account" in confirm and KEY not in confirm
    client.post(delete)
    assert CarrierAccount.objects.filter(pk=account.pk).exists()
    client.post(delete, {"confirmed": "1"})
    assert not CarrierAccount.objects.filter(pk=account.pk).exists()


# --- API keys ------------------------------------------------------------------------------------


def test_an_api_key_is_shown_once_and_only_its_digest_is_kept(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    response = client.post(url("settings-api-keys", shop_a), {"name": "Shopify connector"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    html = page(response)
    assert "Copy the key now" in html
    secret = response.context["secret"]
    assert secret in html and secret.startswith("sk_")
    key = ApiKey.objects.get(shop=shop_a)
    assert key.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert all(
        secret not in str(value)
        for value in ApiKey.objects.filter(pk=key.pk).values().get().values()
    )
    listing = page(client.get(url("settings-api-keys", shop_a)))
    assert "Shopify connector" in listing and key.prefix in listing and secret not in listing


def test_an_api_key_needs_a_name(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).post(url("settings-api-keys", shop_a), {"name": "  "})
    assert response.status_code == 400 and not ApiKey.objects.exists()


def test_an_api_key_is_revoked_after_confirmation(shop_a: Shop, owner_a: Any, key_a: Any) -> None:
    client = client_for(owner_a)
    revoke = url("settings-api-key-revoke", shop_a, key_id=key_a.api_key.pk)
    assert "Revoke key" in page(client.get(revoke))
    client.post(revoke)
    assert ApiKey.objects.get(pk=key_a.api_key.pk).revoked_at is None
    client.post(revoke, {"confirmed": "1"})
    assert ApiKey.objects.get(pk=key_a.api_key.pk).revoked_at is not None
    assert "Revoked" in page(client.get(url("settings-api-keys", shop_a)))


# --- webhook endpoints ----------------------------------------------------------------------------


def test_an_endpoint_is_added_with_its_secret_shown_once(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    response = client.post(
        url("settings-webhook-new", shop_a),
        {"url": PUBLIC_URL, "description": "ERP", "event_types": "order.shipped, shipment."},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(shop=shop_a)
    secret = crypto.decrypt(endpoint.secret_encrypted)
    assert secret in page(response) and endpoint.event_types == ["order.shipped", "shipment."]
    assert secret not in page(client.get(url("settings-webhooks", shop_a)))
    assert secret not in page(
        client.get(url("settings-webhook-edit", shop_a, endpoint_id=endpoint.pk))
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"url": "http://10.0.0.1/hooks"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"event_types": "Order Shipped!"}, "event type"),
    ],
)
def test_bad_endpoints_are_refused(
    shop_a: Shop, owner_a: Any, data: dict[str, str], words: str
) -> None:
    form = {"url": PUBLIC_URL, "description": "", "event_types": ""} | data
    response = client_for(owner_a).post(url("settings-webhook-new", shop_a), form)
    assert response.status_code == 400 and words.lower() in page(response).lower()
    assert not WebhookEndpoint.objects.exists()


def _endpoint(shop: Shop) -> WebhookEndpoint:
    endpoint, _secret = notifications.endpoint_create(shop=shop, url=PUBLIC_URL)
    return endpoint


def test_an_endpoint_is_edited_disabled_and_enabled_again(shop_a: Shop, owner_a: Any) -> None:
    endpoint = _endpoint(shop_a)
    client = client_for(owner_a)
    edit = url("settings-webhook-edit", shop_a, endpoint_id=endpoint.pk)
    bad = client.post(edit, {"url": PUBLIC_URL, "event_types": "NOT VALID", "enabled": "on"})
    assert bad.status_code == 400
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).event_types == []
    client.post(edit, {"url": PUBLIC_URL, "description": "CRM", "event_types": "order."})
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types, endpoint.enabled) == (
        "CRM",
        ["order."],
        False,
    )
    listing = page(client.get(url("settings-webhooks", shop_a)))
    assert "Enable again" in listing
    client.post(url("settings-webhook-enable", shop_a, endpoint_id=endpoint.pk))
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""


def test_rotating_the_secret_asks_first_and_shows_the_new_one_once(
    shop_a: Shop, owner_a: Any
) -> None:
    endpoint = _endpoint(shop_a)
    old = crypto.decrypt(endpoint.secret_encrypted)
    client = client_for(owner_a)
    rotate = url("settings-webhook-rotate", shop_a, endpoint_id=endpoint.pk)
    assert "Rotate secret" in page(client.get(rotate))
    client.post(rotate)
    assert crypto.decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted) == old
    response = client.post(rotate, {"confirmed": "1"})
    new = crypto.decrypt(WebhookEndpoint.objects.get(pk=endpoint.pk).secret_encrypted)
    assert new != old and new in page(response) and old not in page(response)


def test_an_endpoint_is_deleted_after_confirmation(shop_a: Shop, owner_a: Any) -> None:
    endpoint = _endpoint(shop_a)
    client = client_for(owner_a)
    delete = url("settings-webhook-delete", shop_a, endpoint_id=endpoint.pk)
    assert "Delete endpoint" in page(client.get(delete))
    client.post(delete)
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    client.post(delete, {"confirmed": "1"})
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def _webhook_message(shop: Shop, endpoint: WebhookEndpoint, status: str) -> OutboxMessage:
    make_order(shop, paid=True)
    message = OutboxMessage.objects.filter(endpoint=endpoint).order_by("pk").first()
    assert message is not None
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=status, attempts=3, last_error="HTTP 500 from the receiver"
    )
    return message


def test_the_delivery_log_and_a_replay_requeues_the_message(shop_a: Shop, owner_a: Any) -> None:
    endpoint = _endpoint(shop_a)
    message = _webhook_message(shop_a, endpoint, OutboxMessage.Status.DEAD)
    client = client_for(owner_a)
    log = page(client.get(url("settings-webhook-deliveries", shop_a, endpoint_id=endpoint.pk)))
    assert message.event_type in log and "HTTP 500 from the receiver" in log and "Replay" in log
    replay = url("settings-webhook-replay", shop_a, endpoint_id=endpoint.pk, message_id=message.pk)
    response = client.post(replay, follow=True)
    assert "queued to be sent again" in followed_messages(response)
    message.refresh_from_db()
    assert (message.status, message.attempts, message.last_error) == ("pending", 0, "")
    again = client.post(replay, follow=True)  # pending now: refused, unchanged
    assert "cannot be replayed" in followed_messages(again)


def test_a_disabled_endpoint_must_be_enabled_before_replaying(shop_a: Shop, owner_a: Any) -> None:
    endpoint = _endpoint(shop_a)
    message = _webhook_message(shop_a, endpoint, OutboxMessage.Status.SENT)
    notifications.endpoint_update(shop=shop_a, endpoint_id=endpoint.pk, enabled=False)
    client = client_for(owner_a)
    replay = url("settings-webhook-replay", shop_a, endpoint_id=endpoint.pk, message_id=message.pk)
    response = client.post(replay, follow=True)
    assert "enable it before replaying" in followed_messages(response)
    assert OutboxMessage.objects.get(pk=message.pk).status == "sent"


# --- policies --------------------------------------------------------------------------------------


def policies_form(**changes: str) -> dict[str, str]:
    data = {
        "return_window_days": "14",
        "archive_retention_days": "3650",
        "support_email": "aide@maison-lumiere.fr",
        "support_phone": "04 72 00 00 00",
    }
    return data | changes


def test_policies_are_saved_and_short_retention_warns(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    assert "Save policies" in page(client.get(url("settings-policies", shop_a)))
    response = client.post(url("settings-policies", shop_a), policies_form(), follow=True)
    assert "The policies were saved." in followed_messages(response)
    shop_a.refresh_from_db()
    assert (shop_a.return_window_days, shop_a.support_phone) == (14, "+33472000000")
    response = client.post(
        url("settings-policies", shop_a), policies_form(archive_retention_days="400"), follow=True
    )
    assert "less than 10 years" in followed_messages(response)
    shop_a.refresh_from_db()
    assert shop_a.archive_retention_days == 400


@pytest.mark.parametrize(
    "changes",
    [
        {"support_phone": "123"},
        {"support_email": "nope"},
        {"archive_retention_days": "364"},
        {"return_window_days": "366"},
        {"return_window_days": "x"},
    ],
)
def test_bad_policies_change_nothing(shop_a: Shop, owner_a: Any, changes: dict[str, str]) -> None:
    response = client_for(owner_a).post(url("settings-policies", shop_a), policies_form(**changes))
    assert response.status_code == 400
    shop_a.refresh_from_db()
    assert (shop_a.return_window_days, shop_a.support_email) == (30, "")


def promises_form(rows: list[dict[str, str]], initial: int) -> dict[str, str]:
    data = {
        "promises-TOTAL_FORMS": str(len(rows)),
        "promises-INITIAL_FORMS": str(initial),
        "promises-MIN_NUM_FORMS": "0",
        "promises-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data |= {f"promises-{index}-{name}": value for name, value in row.items()}
    return data


def test_the_promises_table_adds_changes_and_deletes_rows(shop_a: Shop, owner_a: Any) -> None:
    dhl = promise_set(shop=shop_a, carrier="dhl", business_days=2)
    gls = promise_set(shop=shop_a, carrier="gls", business_days=3)
    client = client_for(owner_a)
    html = page(client.get(url("settings-policies", shop_a)))
    assert "Save delivery promises" in html and "promises-2-carrier" in html  # the empty row
    rows = [
        {"promise_id": str(dhl.pk), "carrier": "dhl", "service": "Express", "business_days": "1"},
        {"promise_id": str(gls.pk), "carrier": "gls", "service": "", "business_days": "3",
         "DELETE": "on"},
        {"promise_id": "", "carrier": "colissimo", "service": "", "business_days": "4"},
    ]  # fmt: skip
    response = client.post(url("settings-promises", shop_a), promises_form(rows, 2), follow=True)
    assert "The delivery promises were saved." in followed_messages(response)
    assert sorted(
        DeliveryPromise.objects.filter(shop=shop_a).values_list(
            "carrier", "service", "business_days"
        )
    ) == [("colissimo", "", 4), ("dhl", "Express", 1)]


@pytest.mark.parametrize(
    "bad_row",
    [
        {"promise_id": "", "carrier": "ups", "service": "", "business_days": "0"},
        {"promise_id": "", "carrier": "ups", "service": "", "business_days": "61"},
        {"promise_id": "", "carrier": "pigeon", "service": "", "business_days": "2"},
        {"promise_id": "", "carrier": "ups", "service": "", "business_days": ""},
        {"promise_id": "", "carrier": "dhl", "service": "", "business_days": "5"},  # twice
    ],
)
def test_a_bad_row_changes_nothing(shop_a: Shop, owner_a: Any, bad_row: dict[str, str]) -> None:
    dhl = promise_set(shop=shop_a, carrier="dhl", business_days=2)
    rows = [
        {"promise_id": str(dhl.pk), "carrier": "dhl", "service": "", "business_days": "9"},
        bad_row,
    ]
    response = client_for(owner_a).post(url("settings-promises", shop_a), promises_form(rows, 1))
    assert response.status_code == 400
    assert list(DeliveryPromise.objects.values_list("carrier", "business_days")) == [("dhl", 2)]
