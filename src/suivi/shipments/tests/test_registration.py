"""Registering new numbers with carriers that push only for registered numbers."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.utils import timezone

from suivi.carriers import registry
from suivi.carriers.base import RateLimited
from suivi.carriers.vocabulary import TrackingError
from suivi.shipments import registration, services
from suivi.shipments.models import ParcelLeg

from .factories import shipped_order

pytestmark = pytest.mark.django_db


class Calls(list):  # type: ignore[type-arg]
    """The calls made, and what the next calls answer (errors lists, or an exception)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: list[object] = []


@pytest.fixture
def calls(monkeypatch):
    recorded = Calls()
    script = recorded.script

    def register(numbers, account, callback, secret):
        recorded.append((list(numbers), callback, secret))
        outcome = script.pop(0) if script else []
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    connector = dataclasses.replace(
        registry.CONNECTORS["ups"], register=register, max_numbers_per_registration=2
    )
    monkeypatch.setitem(registry.CONNECTORS, "ups", connector)  # type: ignore[index]
    return recorded


def test_new_numbers_are_registered_with_the_webhook_address(shop_a, calls, settings) -> None:
    settings.BASE_URL = "https://suivi.example.com"
    account, secret = services.account_create(
        shop=shop_a, carrier="ups", credentials={"client_id": "i", "client_secret": "s"}
    )
    numbers = ["1Z999AA10123456784", "1Z12345E6605272234", "1Z12345E0305271640"]
    for number in numbers:
        shipped_order(shop_a, number, carrier="ups")
    calls.script.extend([[TrackingError(numbers[1], "invalid_number", "not a UPS number")], []])
    assert registration.run_once() == 2
    assert [len(batch) for batch, _url, _secret in calls] == [2, 1]
    _numbers, url, sent_secret = calls[0]
    assert url == f"https://suivi.example.com/api/v1/tracking/webhooks/{account.pk}"
    assert sent_secret == secret
    legs = {leg.tracking_number: leg for leg in ParcelLeg.objects.all()}
    assert legs[numbers[0]].registered_at is not None and legs[numbers[0]].register_at is None
    refused = legs[numbers[1]]
    assert refused.registered_at is None and refused.register_at is None
    assert "invalid_number" in refused.last_error
    assert registration.run_once() == 0 and len(calls) == 2  # nothing left to do


def test_rate_limits_back_off_and_no_base_url_waits(shop_a, calls, settings) -> None:
    settings.BASE_URL = ""
    services.account_create(
        shop=shop_a, carrier="ups", credentials={"client_id": "i", "client_secret": "s"}
    )
    shipped_order(shop_a, "1Z999AA10123456784", carrier="ups")
    assert registration.run_once() == 0 and calls == []
    leg = ParcelLeg.objects.get()
    assert "SUIVI_BASE_URL" in leg.last_error
    settings.BASE_URL = "https://suivi.example.com"
    ParcelLeg.objects.update(register_at=timezone.now())
    calls.script.append(RateLimited("slow down", status=429, retry_after=600))
    assert registration.run_once() == 0
    leg.refresh_from_db()
    assert leg.register_at >= timezone.now() + timedelta(seconds=590)
    assert leg.registered_at is None


def test_carriers_without_registration_never_get_a_registration_time(shop_a) -> None:
    services.account_create(shop=shop_a, carrier="laposte", credentials={"api_key": "k"})
    shipped_order(shop_a, "6A12345678901")
    assert ParcelLeg.objects.get().register_at is None


def test_ups_end_to_end_subscription_then_track_alert_moves_the_order(
    shop_a, client, settings
) -> None:
    """A UPS parcel is subscribed with the real connector (fake UPS on loopback); the Track
    Alert webhook UPS then sends, with the subscription's credential, moves the order."""
    import json
    from pathlib import Path

    from suivi.carriers.testing import FakeCarrier, Reply
    from suivi.notifications.models import OutboxMessage

    fixtures = Path(__file__).parents[2] / "carriers" / "tests" / "fixtures" / "ups"
    settings.BASE_URL = "https://suivi.example.com"

    def ups(request):
        if request.path == "/security/v1/oauth/token":
            return Reply(200, (fixtures / "token.json").read_bytes())
        if request.path == "/api/track/v1/subscription/standard/package":
            numbers = json.loads(request.body)["trackingNumberList"]
            return Reply(200, json.dumps({"validTrackingNumbers": numbers}).encode())
        return Reply(404, b"{}")

    number = "1Z999AA10123456784"
    with FakeCarrier() as fake:
        fake.route = ups
        account, secret = services.account_create(
            shop=shop_a, carrier="ups", base_url=fake.url,
            credentials={"client_id": "suivi-test-client", "client_secret": "s"},
        )  # fmt: skip
        order, _ = shipped_order(shop_a, number, carrier="ups")
        assert registration.run_once() == 1
        [subscribe] = [r for r in fake.requests if r.path.endswith("/package")]
    body = json.loads(subscribe.body)
    assert body["trackingNumberList"] == [number]
    assert body["destination"]["credential"] == secret
    assert body["destination"]["url"].endswith(f"/api/v1/tracking/webhooks/{account.pk}")
    assert ParcelLeg.objects.get().registered_at is not None

    alert = (fixtures / "track_alert_out_for_delivery.json").read_bytes()
    path = f"/api/v1/tracking/webhooks/{account.pk}"
    refused = client.post(path, alert, content_type="application/json", HTTP_CREDENTIAL="wrong")
    assert refused.status_code == 401
    accepted = client.post(path, alert, content_type="application/json", HTTP_CREDENTIAL=secret)
    assert accepted.status_code == 200, accepted.content
    order.refresh_from_db()
    assert order.status == "out_for_delivery"
    assert OutboxMessage.objects.filter(order_id=order.pk, event_key="out_for_delivery").exists()


def test_expiring_registrations_are_renewed_for_parcels_still_followed(
    shop_a, calls, settings
) -> None:
    settings.BASE_URL = "https://suivi.example.com"
    services.account_create(
        shop=shop_a, carrier="ups", credentials={"client_id": "i", "client_secret": "s"}
    )
    shipped_order(shop_a, "1Z999AA10123456784", carrier="ups")
    done, _ = shipped_order(shop_a, "1Z12345E6605272234", carrier="ups")
    assert registration.run_once() == 2
    thirteen_days = timezone.now() - timedelta(days=13, minutes=1)
    ParcelLeg.objects.update(registered_at=thirteen_days)
    ParcelLeg.objects.filter(parcel__order=done).update(next_poll_at=None)  # terminal
    assert registration.renew_expiring() == 1
    assert registration.run_once() == 1
    assert calls[-1][0] == ["1Z999AA10123456784"]
    assert registration.renew_expiring() == 0  # fresh again
