"""'Test connection' of a carrier account against fake carriers on loopback (real HTTP):
La Poste (API key) and UPS (OAuth client credentials)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from suivi.carriers.connectors import ups
from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.core.errors import NotFound
from suivi.shipments import services
from suivi.shipments.connection import Outcome, account_test
from suivi.shipments.models import CarrierAccount

pytestmark = pytest.mark.django_db

UPS_FIXTURES = Path(__file__).parents[2] / "carriers" / "tests" / "fixtures" / "ups"
UPS_TOKEN_PATH = "/security/v1/oauth/token"
KEY = "okapi-secret-key-0001"
UNKNOWN = (
    b'{"lang":"fr_FR","returnCode":404,"returnMessage":"Numero inconnu","idShip":"6A00000000000"}'
)


@pytest.fixture(autouse=True)
def _fresh_tokens():
    ups.TOKENS.clear()
    yield
    ups.TOKENS.clear()


@pytest.fixture
def carrier():
    with FakeCarrier() as fake:
        yield fake


def _laposte(shop, url: str, key: str = KEY) -> CarrierAccount:
    account, _secret = services.account_create(
        shop=shop, carrier="laposte", credentials={"api_key": key}, base_url=url
    )
    return account


def _laposte_route(request: Recorded) -> Reply:
    if request.headers.get("x-okapi-key") != KEY:
        return Reply(401, b'{"code":"UNAUTHORIZED","message":"Invalid apikey"}')
    return Reply(404, UNKNOWN)


def test_laposte_good_key_is_ok_and_clears_the_last_error(shop_a, carrier) -> None:
    carrier.route = _laposte_route
    account = _laposte(shop_a, carrier.url)
    CarrierAccount.objects.filter(pk=account.pk).update(last_error="authentication refused (401)")
    result = account_test(shop_a, account.pk)
    assert result.ok and result.outcome is Outcome.OK
    [request] = carrier.requests
    assert request.path == "/suivi/v2/idships/6A00000000000"
    assert request.headers["x-okapi-key"] == KEY
    account.refresh_from_db()
    assert account.last_error == "" and account.window_calls == 1  # counted like polling


def test_laposte_refused_key_is_an_authentication_error(shop_a, carrier) -> None:
    carrier.route = _laposte_route
    account = _laposte(shop_a, carrier.url, key="wrong-key-000000")
    result = account_test(shop_a, account.pk)
    assert (result.ok, result.outcome, result.status_code) == (False, Outcome.AUTH_REFUSED, 401)
    assert "wrong-key" not in result.message
    account.refresh_from_db()
    assert "refused" in account.last_error and account.last_error_at is not None


def test_a_closed_port_is_unreachable(shop_a) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    account = _laposte(shop_a, f"http://127.0.0.1:{port}")
    result = account_test(shop_a, account.pk)
    assert (result.ok, result.outcome) == (False, Outcome.UNREACHABLE)
    account.refresh_from_db()
    assert account.last_error == ""  # not the account's fault: nothing recorded


def test_rate_limited_and_server_errors_are_told_apart(shop_a, carrier) -> None:
    account = _laposte(shop_a, carrier.url)
    carrier.enqueue(Reply(429, b"{}", {"Retry-After": "30"}), Reply(503, b"maintenance"))
    limited = account_test(shop_a, account.pk)
    assert (limited.outcome, limited.status_code) == (Outcome.RATE_LIMITED, 429)
    broken = account_test(shop_a, account.pk)
    assert (broken.outcome, broken.status_code) == (Outcome.CARRIER_ERROR, 503)


def test_the_accounts_own_budget_is_respected(shop_a, carrier) -> None:
    carrier.route = _laposte_route
    account = _laposte(shop_a, carrier.url)
    CarrierAccount.objects.filter(pk=account.pk).update(requests_per_minute=1)
    assert account_test(shop_a, account.pk).ok
    second = account_test(shop_a, account.pk)
    assert second.outcome is Outcome.RATE_LIMITED and len(carrier.requests) == 1


def test_a_sandbox_url_goes_through_the_ssrf_guard(shop_a, carrier, settings) -> None:
    account = _laposte(shop_a, carrier.url)
    settings.SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = []
    result = account_test(shop_a, account.pk)
    assert result.outcome is Outcome.URL_REFUSED and carrier.requests == []


GOOD_SECRET = "client-secret-0001"


def _ups_account(shop, url: str, secret: str = GOOD_SECRET) -> CarrierAccount:
    account, _push = services.account_create(
        shop=shop,
        carrier="ups",
        credentials={"client_id": "client-id", "client_secret": secret},
        base_url=url,
    )
    return account


def _ups_route(request: Recorded) -> Reply:
    if request.path == UPS_TOKEN_PATH:
        # "client-id:client-secret-0001" in HTTP Basic is the only accepted pair.
        if request.headers.get("authorization") != "Basic Y2xpZW50LWlkOmNsaWVudC1zZWNyZXQtMDAwMQ==":
            return Reply(401, (UPS_FIXTURES / "token_refused.json").read_bytes())
        token = json.loads((UPS_FIXTURES / "token.json").read_text())
        return Reply(200, json.dumps(token).encode())
    return Reply(404, (UPS_FIXTURES / "unknown_number.json").read_bytes())


def test_ups_good_client_credentials_are_ok(shop_a, carrier) -> None:
    carrier.route = _ups_route
    result = account_test(shop_a, _ups_account(shop_a, carrier.url).pk)
    assert result.ok, result.message
    assert [r.path for r in carrier.requests] == [
        UPS_TOKEN_PATH,
        "/api/track/v1/details/1Z0000000000000000",
    ]


def test_ups_refused_client_credentials_are_an_authentication_error(shop_a, carrier) -> None:
    carrier.route = _ups_route
    result = account_test(shop_a, _ups_account(shop_a, carrier.url, secret="nope-nope-nope").pk)
    assert (result.ok, result.outcome, result.status_code) == (False, Outcome.AUTH_REFUSED, 401)
    assert [r.path for r in carrier.requests] == [UPS_TOKEN_PATH]


def test_ups_closed_port_is_unreachable(shop_a) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = account_test(shop_a, _ups_account(shop_a, f"http://127.0.0.1:{port}").pk)
    assert result.outcome is Outcome.UNREACHABLE


def test_another_shops_account_is_not_found(shop_a, shop_b, carrier) -> None:
    account = _laposte(shop_b, carrier.url)
    with pytest.raises(NotFound):
        account_test(shop_a, account.pk)
    assert carrier.requests == []


def test_a_push_only_carrier_has_nothing_to_test(shop_a) -> None:
    account, _secret = services.account_create(shop=shop_a, carrier="other")
    assert account_test(shop_a, account.pk).outcome is Outcome.NOT_SUPPORTED
