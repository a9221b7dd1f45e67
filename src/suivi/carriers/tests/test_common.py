"""The helpers connectors share (suivi.carriers.common) and the options of base.call."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from suivi.carriers.base import (
    Account,
    AuthenticationFailed,
    CarrierUnavailable,
    RateLimited,
    call,
    rate_limit_reset,
)
from suivi.carriers.common import (
    XML_REFUSED,
    TokenCache,
    as_dict,
    as_list,
    aware_time,
    client_credentials,
    find,
    for_number,
    last_moved,
    lifetime,
    local_name,
    offset_from_gmt,
    parse_offset,
    read_json,
    read_token,
    safe_xml,
    soap_fault,
    text,
)
from suivi.carriers.testing import FakeCarrier, Reply
from suivi.carriers.vocabulary import Reason, ShipmentUpdate, Status, TrackingError, TrackingEvent

PARIS_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture
def carrier() -> Iterator[FakeCarrier]:
    with FakeCarrier() as fake:
        yield fake


# --- JSON values --------------------------------------------------------------------------


def test_json_accessors_never_raise_and_read_only_their_type() -> None:
    assert as_dict({"a": 1}) == {"a": 1} and as_dict([1]) == {} and as_dict(None) == {}
    assert as_list([1]) == [1] and as_list({"a": 1}) == [] and as_list("ab") == []
    assert text("  x ") == "x" and text(5) == "" and text(None) == ""
    assert text(5, numbers=True) == "5" and text(1.5, numbers=True) == "1.5"
    assert text(True, numbers=True) == ""  # a boolean is not a number here


def test_read_json_says_why_a_body_is_unusable() -> None:
    assert read_json(b'{"a": [1]}') == ({"a": [1]}, "")
    data, problem = read_json(b"{nope")
    assert data is None and problem.startswith("the answer is not usable JSON: ")
    assert read_json(b"\xff", "the webhook body")[1].startswith("the webhook body is not usable")
    assert read_json(b"[" * 100_000)[0] is None  # absurd nesting: refused, not raised
    assert read_json(b"null") == (None, "")


# --- Times ---------------------------------------------------------------------------------


def test_aware_time_keeps_the_carriers_offset_or_localizes_a_bare_time() -> None:
    given_offset = aware_time(" 2026-11-18T11:02:00+01:00 ")
    assert given_offset is not None and given_offset.utcoffset() == timedelta(hours=1)
    assert aware_time("2026-07-01T09:00:00") is None  # bare, and nothing to place it with
    in_france = aware_time("2026-07-01T09:00:00", country="FR")
    assert in_france is not None and in_france.utcoffset() == timedelta(hours=2)
    at_home = aware_time("2026-01-01T09:00:00", country="US", default_zone="Europe/Paris")
    assert at_home is not None and at_home.utcoffset() == timedelta(hours=1)
    for junk in ("", "yesterday", None, 20260701, ["2026-07-01"]):
        assert aware_time(junk, country="FR") is None


@pytest.mark.parametrize(
    ("written", "minutes"),
    [("-05:00", -300), ("+0530", 330), ("-7:00", -420), ("-05", -300), (" +01:00 ", 60),
     ("+14:00", 840), ("-00:00", 0)],
)  # fmt: skip
def test_offsets_as_carriers_write_them(written: str, minutes: int) -> None:
    found = parse_offset(written)
    assert found is not None and found.utcoffset(None) == timedelta(minutes=minutes)


@pytest.mark.parametrize("written", ["", "05:00", "+15:00", "+14:30", "+01:60", "+1:2", "Z"])
def test_what_is_not_an_offset(written: str) -> None:
    assert parse_offset(written) is None


def test_the_offset_from_a_gmt_time_is_rounded_to_the_quarter_hour() -> None:
    local = datetime(2026, 3, 1, 10, 30)
    assert offset_from_gmt(local, datetime(2026, 3, 1, 15, 30, 20)) == timezone(
        timedelta(hours=-5)
    )  # seconds of drift between the two clocks do not matter
    india = offset_from_gmt(local, datetime(2026, 3, 1, 5, 0, tzinfo=UTC))
    assert india == timezone(timedelta(hours=5, minutes=30))
    aware_gmt = datetime(2026, 3, 1, 16, 30, tzinfo=timezone(timedelta(hours=1)))
    assert offset_from_gmt(local, aware_gmt) == timezone(timedelta(hours=-5))
    assert offset_from_gmt(local, local - timedelta(hours=15)) is None


# --- XML -----------------------------------------------------------------------------------

UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'.encode(
        "utf-16"
    )
)
FAULT = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>boom</faultstring>"
    b"</soap:Fault></soap:Body></soap:Envelope>"
)


def test_safe_xml_reads_plain_xml_and_finds_elements_in_any_namespace() -> None:
    root = safe_xml(FAULT)
    assert not isinstance(root, str)
    fault = find(root, "Fault")
    assert fault is not None and local_name(fault.tag) == "Fault"
    assert find(root, "Nothing") is None
    assert local_name(None) == ""


@pytest.mark.parametrize(
    "body",
    [b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>',
     b'<?xml version="1.0"?><!doctype a SYSTEM "file:///etc/passwd"><a/>',
     b'<?xml version="1.0"?><!DOCTYPE a SYSTEM "http://127.0.0.1/x.dtd"><a/>',
     UTF16_DOCTYPE],
)  # fmt: skip
def test_safe_xml_refuses_any_dtd_or_entity_in_any_encoding(body: bytes) -> None:
    assert safe_xml(body) == XML_REFUSED


@pytest.mark.parametrize("body", [b"", b"<a", b"\xff\xfe", b"{}", b"<" * 100_000])
def test_safe_xml_says_why_a_body_is_not_xml(body: bytes) -> None:
    found = safe_xml(body)
    assert isinstance(found, str) and found.startswith("the answer is not usable XML")


@given(st.binary(max_size=300))
def test_safe_xml_never_raises(body: bytes) -> None:
    safe_xml(body)


def test_a_soap_fault_is_an_http_500_carrying_a_fault() -> None:
    assert soap_fault(httpx.Response(500, content=FAULT))
    assert not soap_fault(httpx.Response(500, content=b"<html>Internal error</html>"))
    assert not soap_fault(httpx.Response(200, content=FAULT))
    assert not soap_fault(httpx.Response(502, content=FAULT))


# --- base.call: reading errors, rate-limit reset headers -------------------------------------


def _account(fake: FakeCarrier, **credentials: str) -> Account:
    return Account(base_url=fake.url, credentials=credentials, timeout=2.0)


def test_read_error_returns_the_answers_it_accepts_and_raises_the_others(
    carrier: FakeCarrier,
) -> None:
    carrier.enqueue(Reply(500, FAULT, content_type="text/xml"))
    response = call("POST", carrier.url, account=_account(carrier), read_error=soap_fault)
    assert response.status_code == 500 and response.content == FAULT
    carrier.enqueue(Reply(500, b"<html>Internal error</html>", content_type="text/html"))
    with pytest.raises(CarrierUnavailable):
        call("POST", carrier.url, account=_account(carrier), read_error=soap_fault)
    carrier.enqueue(Reply(500, FAULT, content_type="text/xml"))
    with pytest.raises(CarrierUnavailable):  # without read_error, a 500 is a 500
        call("POST", carrier.url, account=_account(carrier))


def _rate_limited(carrier: FakeCarrier, headers: dict[str, str], **options: Any) -> RateLimited:
    carrier.enqueue(Reply(429, b"{}", headers))
    with pytest.raises(RateLimited) as caught:
        call("GET", carrier.url, account=_account(carrier), **options)
    return caught.value


RESET = ("X-RateLimit-Reset", "RateLimit-Reset")


def test_a_429_without_retry_after_waits_until_the_window_resets(carrier: FakeCarrier) -> None:
    unix = str(int(time.time()) + 30)
    wait = _rate_limited(carrier, {"X-RateLimit-Reset": unix}, reset_headers=RESET).retry_after
    assert wait is not None and 25 <= wait <= 31
    seconds = _rate_limited(carrier, {"RateLimit-Reset": "12"}, reset_headers=RESET)
    assert seconds.retry_after == 12.0  # the second header, in seconds
    both = {"Retry-After": "2", "X-RateLimit-Reset": unix}
    assert _rate_limited(carrier, both, reset_headers=RESET).retry_after == 2.0
    assert _rate_limited(carrier, {}, reset_headers=RESET).retry_after is None
    # Only for the carriers that ask for it:
    assert _rate_limited(carrier, {"X-RateLimit-Reset": unix}).retry_after is None


def test_reset_headers_only_concern_429(carrier: FakeCarrier) -> None:
    carrier.enqueue(Reply(503, b"", {"X-RateLimit-Reset": "30"}))
    with pytest.raises(CarrierUnavailable) as caught:
        call("GET", carrier.url, account=_account(carrier), reset_headers=RESET)
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("soon", None), ("nan", None), ("inf", None), ("-5", 0.0),
     ("45", 45.0), ("1000000001", 0.0)],  # a Unix time long past: wait no more
)  # fmt: skip
def test_rate_limit_reset_values(value: str | None, expected: float | None) -> None:
    assert rate_limit_reset(value) == expected


# --- Results --------------------------------------------------------------------------------

MOMENT = datetime(2026, 7, 1, 9, 0, tzinfo=PARIS_SUMMER)


def _update(number: str, *hours: int) -> ShipmentUpdate:
    events = tuple(
        TrackingEvent(
            tracking_number=number,
            status=Status.IN_TRANSIT,
            reason=Reason.NONE,
            occurred_at=MOMENT + timedelta(hours=h),
            raw_code="X",
            raw_label="",
        )
        for h in hours
    )
    return ShipmentUpdate(tracking_number=number, events=events)


def test_for_number_keeps_the_shipment_of_the_number_asked_under_that_number() -> None:
    [chosen] = for_number([_update("OTHER", 1), _update("1z 999", 2)], "1Z999")
    assert isinstance(chosen, ShipmentUpdate) and chosen.tracking_number == "1Z999"
    assert [e.occurred_at.hour for e in chosen.events] == [11]
    assert {e.tracking_number for e in chosen.events} == {"1Z999"}
    [first] = for_number([_update("PIECE", 1), _update("OTHER", 2)], "ASKED")
    assert isinstance(first, ShipmentUpdate) and first.tracking_number == "ASKED"
    assert [e.occurred_at.hour for e in first.events] == [10]


def test_for_number_relabels_errors_about_the_number_but_not_whole_call_errors() -> None:
    unknown = TrackingError("", "unknown_number", "no such parcel")
    assert for_number([unknown, unknown], "N1") == [
        TrackingError("N1", "unknown_number", "no such parcel")
    ]
    whole_call = TrackingError("", "carrier_error", "not JSON")
    assert for_number([whole_call], "N1") == [whole_call]
    assert for_number([], "N1") == []


def test_last_moved_is_the_newest_event_or_the_epoch() -> None:
    assert last_moved(_update("N", 3, 1)) == MOMENT + timedelta(hours=3)
    assert last_moved(_update("N")) == datetime(1970, 1, 1, tzinfo=UTC)


# --- Tokens ---------------------------------------------------------------------------------

CREDENTIALS = {"client_id": "app", "client_secret": "s3cret"}


class _Issuer:
    """Issues token-1, token-2… with the lifetime asked; counts the calls."""

    def __init__(self, seconds: float = 3600.0) -> None:
        self.seconds = seconds
        self.issued: list[str] = []

    def __call__(self, account: Account) -> tuple[str, float]:
        self.issued.append(f"token-{len(self.issued) + 1}")
        return self.issued[-1], self.seconds


def _cache(issuer: _Issuer, now: list[float], **options: Any) -> TokenCache:
    cache = TokenCache(issuer, **options)
    cache.clock = lambda: now[0]
    return cache


ACCOUNT = Account(base_url="https://carrier.example/", credentials=CREDENTIALS)


def test_a_token_is_reused_until_margin_seconds_before_it_expires() -> None:
    issuer, now = _Issuer(3600.0), [1000.0]
    cache = _cache(issuer, now, margin=60.0)
    assert cache.get(ACCOUNT) == ("token-1", True)
    now[0] += 3600 - 61
    assert cache.get(ACCOUNT) == ("token-1", False)
    now[0] += 1  # within the last minute: replaced before use
    assert cache.get(ACCOUNT) == ("token-2", True)
    assert issuer.issued == ["token-1", "token-2"]


def test_a_token_without_a_lifetime_serves_one_call_and_lifetimes_can_be_capped() -> None:
    issuer, now = _Issuer(0.0), [1000.0]
    cache = _cache(issuer, now)
    assert [cache.token(ACCOUNT) for _ in range(2)] == ["token-1", "token-2"]
    issuer, now = _Issuer(10**6), [1000.0]
    capped = _cache(issuer, now, margin=300.0, max_lifetime=4 * 3600.0)
    capped.token(ACCOUNT)
    now[0] += 4 * 3600 - 301
    assert capped.token(ACCOUNT) == "token-1"
    now[0] += 1
    assert capped.token(ACCOUNT) == "token-2"


def test_tokens_are_per_base_url_identity_and_secret() -> None:
    issuer, now = _Issuer(), [0.0]
    cache = _cache(issuer, now)
    cache.token(ACCOUNT)
    cache.token(Account(base_url="https://carrier.example", credentials=CREDENTIALS))  # same
    cache.token(Account(base_url=ACCOUNT.base_url, credentials={**CREDENTIALS, "client_id": "b"}))
    rotated = {**CREDENTIALS, "client_secret": "rotated"}
    cache.token(Account(base_url=ACCOUNT.base_url, credentials=rotated))
    cache.token(Account(base_url="https://sandbox.example", credentials=CREDENTIALS))
    assert issuer.issued == ["token-1", "token-2", "token-3", "token-4"]
    cache.clear()
    assert cache.token(ACCOUNT) == "token-5"


def test_missing_credentials_are_refused_before_any_token_is_fetched() -> None:
    issuer = _Issuer()
    cache = TokenCache(issuer, credentials=("delis_id", "password"))
    with pytest.raises(AuthenticationFailed):
        cache.token(Account(base_url="https://x", credentials={"delis_id": "d"}))
    assert issuer.issued == []


def _refusing(*refused: str, status: int = 401) -> tuple[list[str], Callable[[str], str]]:
    sent: list[str] = []

    def send(token: str) -> str:
        sent.append(token)
        if token in refused:
            raise AuthenticationFailed("refused", status=status)
        return f"answer with {token}"

    return sent, send


def test_a_refused_cached_token_is_dropped_and_the_call_made_once_more() -> None:
    issuer, now = _Issuer(), [0.0]
    cache = _cache(issuer, now)
    cache.token(ACCOUNT)
    sent, send = _refusing("token-1")
    assert cache.authorized(ACCOUNT, send) == "answer with token-2"
    assert sent == ["token-1", "token-2"]
    assert cache.get(ACCOUNT) == ("token-2", False)


def test_a_second_refusal_raises_and_the_refused_token_is_not_kept() -> None:
    issuer, now = _Issuer(), [0.0]
    cache = _cache(issuer, now)
    sent, send = _refusing("token-1", "token-2")
    with pytest.raises(AuthenticationFailed):
        cache.authorized(ACCOUNT, send)
    assert sent == ["token-1", "token-2"]  # a fresh token refused is retried once by default
    assert cache.get(ACCOUNT) == ("token-3", True)


def test_only_the_refusals_the_cache_is_told_about_are_retried() -> None:
    issuer, now = _Issuer(), [0.0]
    cache = _cache(issuer, now)
    sent, send = _refusing("token-1", status=403)  # by default only a 401 means "token"
    with pytest.raises(AuthenticationFailed):
        cache.authorized(ACCOUNT, send)
    assert sent == ["token-1"] and cache.get(ACCOUNT) == ("token-1", False)
    everything = _cache(_Issuer(), now, refused=lambda exc: True)
    sent, send = _refusing("token-1", status=403)
    assert everything.authorized(ACCOUNT, send) == "answer with token-2"


def test_without_retry_fresh_a_fresh_token_refused_is_not_retried() -> None:
    issuer, now = _Issuer(), [0.0]
    cache = _cache(issuer, now, retry_fresh=False)
    sent, send = _refusing("token-1")
    with pytest.raises(AuthenticationFailed):
        cache.authorized(ACCOUNT, send)
    assert sent == ["token-1"] and issuer.issued == ["token-1"]
    sent, send = _refusing("token-2")  # token-1 was dropped: token-2 is fresh and refused
    with pytest.raises(AuthenticationFailed):
        cache.authorized(ACCOUNT, send)
    sent, send = _refusing("token-3")  # token-3 cached, then refused: renewed once
    cache.token(ACCOUNT)
    assert cache.authorized(ACCOUNT, send) == "answer with token-4"


def test_a_failing_token_fetch_raises_before_any_call() -> None:
    def unavailable(account: Account) -> tuple[str, float]:
        raise CarrierUnavailable("token service down")

    sent, send = _refusing()
    with pytest.raises(CarrierUnavailable):
        TokenCache(unavailable).authorized(ACCOUNT, send)
    assert sent == []


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(3599, 3599.0), ("28799", 28799.0), (1.5, 1.5), (True, 0.0), (None, 0.0), ("soon", 0.0),
     (-5, 0.0), (0, 0.0), (float("nan"), 0.0), (float("inf"), 0.0), (10**7, 0.0)],
)  # fmt: skip
def test_token_lifetimes(value: object, seconds: float) -> None:
    assert lifetime(value) == seconds


@pytest.mark.parametrize(
    "body", [b"not json", b"{}", b'{"access_token": 3}', b'{"access_token": " "}', b"[]"]
)
def test_a_token_answer_without_a_token_is_unavailable(body: bytes) -> None:
    with pytest.raises(CarrierUnavailable):
        read_token(httpx.Response(200, content=body))


def test_a_token_answer_gives_the_token_and_its_lifetime() -> None:
    answer = httpx.Response(200, content=b'{"access_token": "abc", "expires_in": "3599"}')
    assert read_token(answer) == ("abc", 3599.0)


def test_client_credentials_in_the_form_or_in_http_basic(carrier: FakeCarrier) -> None:
    carrier.route = lambda request: Reply(200, b'{"access_token": "t"}')
    account = _account(carrier, **CREDENTIALS)
    client_credentials(account, "/oauth/token", scope="tracking")
    client_credentials(account, "/oauth2/token", basic_auth=True)
    form, basic = carrier.requests
    assert (form.method, form.path) == ("POST", "/oauth/token")
    assert parse_qs(form.body.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["app"],
        "client_secret": ["s3cret"], "scope": ["tracking"],
    }  # fmt: skip
    assert "authorization" not in form.headers
    assert parse_qs(basic.body.decode()) == {"grant_type": ["client_credentials"]}
    assert basic.headers["authorization"] == "Basic " + base64.b64encode(b"app:s3cret").decode()


# --- The fake carrier -----------------------------------------------------------------------


def test_a_client_giving_up_leaves_no_traceback(
    carrier: FakeCarrier, capsys: pytest.CaptureFixture[str]
) -> None:
    carrier.enqueue(Reply(200, b"x" * 2_000_000, delay=0.3))
    with pytest.raises(CarrierUnavailable, match="timeout"):
        call("GET", carrier.url, account=Account(base_url=carrier.url, timeout=0.1))
    time.sleep(0.8)  # the server writes its answer to a closed connection meanwhile
    assert "Traceback" not in capsys.readouterr().err
