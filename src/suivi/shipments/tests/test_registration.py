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
