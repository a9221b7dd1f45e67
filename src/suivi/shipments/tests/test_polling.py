"""Polling driven against a fake La Poste on loopback: batching, schedules, backoff,
Retry-After, the circuit breaker, rate windows, bad data, and expiry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from suivi.carriers.testing import FakeCarrier, Recorded, Reply
from suivi.shipments import polling, schedule, services
from suivi.shipments.models import CarrierAccount, CarrierHealth, Parcel, ParcelLeg

from .factories import number, shipped_order

pytestmark = pytest.mark.django_db


def _answer(
    numbers: list[str], code: str = "ET1", when: str = "2026-11-18T08:00:00+01:00"
) -> bytes:
    items = [
        {
            "lang": "fr_FR",
            "returnCode": 200,
            "shipment": {
                "idShip": n,
                "product": "Colissimo",
                "isFinal": code == "DI1",
                "event": [{"code": code, "label": f"scan {code}", "date": when}],
            },
        }
        for n in numbers
    ]
    return json.dumps(items[0] if len(items) == 1 else items).encode()


def _numbers(request: Recorded) -> list[str]:
    return request.path.rsplit("/", 1)[1].split(",")


@pytest.fixture
def carrier():
    with FakeCarrier() as fake:
        fake.route = lambda request: Reply(207, _answer(_numbers(request)))
        yield fake


@pytest.fixture
def account(shop_a, carrier) -> CarrierAccount:
    account, _secret = services.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": "okapi"}, base_url=carrier.url
    )
    return account


def _due(shop, count: int) -> list[Parcel]:
    parcels = []
    for _ in range(count):
        _order, [parcel] = shipped_order(shop, number())
        parcels.append(parcel)
    ParcelLeg.objects.filter(parcel__in=parcels).update(
        next_poll_at=timezone.now() - timedelta(minutes=1)
    )
    return parcels


def test_due_legs_are_asked_ten_per_call_and_rescheduled_by_state(shop_a, account, carrier) -> None:
    parcels = _due(shop_a, 23)
    report = polling.run_once(100)
    assert (report.claimed, report.calls, report.errors) == (23, 3, 0)
    assert sorted(len(_numbers(r)) for r in carrier.requests) == [3, 10, 10]
    assert all(r.headers["x-okapi-key"] == "okapi" for r in carrier.requests)
    now = timezone.now()
    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == "in_transit"
        leg = parcel.legs.get()
        # In transit: hours from now (3 h ± 15 %), errors cleared.
        assert timedelta(hours=2.5) <= leg.next_poll_at - now <= timedelta(hours=3.5)
        assert leg.last_error == "" and leg.last_polled_at is not None
    assert polling.run_once(100).claimed == 0  # nothing due any more


def test_out_for_delivery_is_polled_within_minutes_and_delivered_stops(
    shop_a, account, carrier
) -> None:
    [parcel] = _due(shop_a, 1)
    carrier.route = lambda request: Reply(200, _answer(_numbers(request), "MD2"))
    polling.run_once()
    leg = ParcelLeg.objects.get(parcel=parcel)
    assert leg.next_poll_at - timezone.now() <= timedelta(minutes=25)
    ParcelLeg.objects.filter(pk=leg.pk).update(next_poll_at=timezone.now())
    carrier.route = lambda request: Reply(
        200, _answer(_numbers(request), "DI1", "2026-11-18T11:00:00+01:00")
    )
    polling.run_once()
    leg.refresh_from_db()
    parcel.refresh_from_db()
    assert parcel.status == "delivered" and leg.next_poll_at is None
    assert parcel.order.status == "delivered"


def test_rate_limited_honours_retry_after_and_changes_nothing(shop_a, account, carrier) -> None:
    parcels = _due(shop_a, 12)
    carrier.enqueue(Reply(429, b'{"code":"TOO_MANY_REQUESTS"}', {"Retry-After": "900"}))
    report = polling.run_once()
    assert report.calls == 1  # the second call of the batch is not even tried
    now = timezone.now()
    for parcel in parcels:
        leg = ParcelLeg.objects.get(parcel=parcel)
        assert leg.next_poll_at >= now + timedelta(seconds=890)
        assert Parcel.objects.get(pk=parcel.pk).status == "pending"
    first = ParcelLeg.objects.get(parcel=parcels[0])
    assert "rate limited" in first.last_error and first.poll_failures == 1


def test_server_errors_back_off_and_open_the_circuit(shop_a, account, carrier) -> None:
    _due(shop_a, 60)  # six calls
    carrier.route = lambda request: Reply(503, b"maintenance")
    report = polling.run_once(100)
    health = CarrierHealth.objects.get(carrier="laposte")
    assert health.consecutive_failures >= polling.BREAKER_THRESHOLD
    assert health.open_until is not None and health.open_until > timezone.now()
    # After the threshold, the remaining chunks are not called.
    assert report.calls == polling.BREAKER_THRESHOLD
    assert len(carrier.requests) == polling.BREAKER_THRESHOLD
    # While open, due legs of this carrier are not even claimed.
    ParcelLeg.objects.update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert polling.claim(100) == []
    # Once the carrier answers again, the breaker closes.
    CarrierHealth.objects.update(open_until=timezone.now() - timedelta(seconds=1))
    carrier.route = lambda request: Reply(207, _answer(_numbers(request)))
    assert polling.run_once(10).calls == 1
    health.refresh_from_db()
    assert health.consecutive_failures == 0 and health.open_until is None


def test_bad_data_is_recorded_and_the_rest_of_the_batch_goes_on(shop_a, account, carrier) -> None:
    parcels = _due(shop_a, 20)
    body = _answer([p.tracking_number for p in parcels[10:]])
    carrier.enqueue(
        Reply(207, b'[{"returnCode": 200, "shipment": {"idShip": '),  # cut JSON
    )
    carrier.route = lambda request: Reply(207, body)
    report = polling.run_once()
    assert report.calls == 2 and report.errors == 10
    legs = {leg.parcel_id: leg for leg in ParcelLeg.objects.filter(parcel__in=parcels)}
    statuses = dict(
        Parcel.objects.filter(pk__in=[p.pk for p in parcels]).values_list("pk", "status")
    )
    broken = [p for p in parcels if statuses[p.pk] == "pending"]
    fine = [p for p in parcels if statuses[p.pk] == "in_transit"]
    assert len(broken) == 10 and len(fine) == 10
    for parcel in broken:
        assert "not usable JSON" in legs[parcel.pk].last_error
        assert legs[parcel.pk].next_poll_at > timezone.now()


def test_a_cut_connection_and_unknown_numbers(shop_a, account, carrier) -> None:
    [a] = _due(shop_a, 1)
    carrier.enqueue(Reply(200, _answer([a.tracking_number]), truncate=True))
    polling.run_once()
    leg = ParcelLeg.objects.get(parcel=a)
    assert leg.poll_failures == 1 and leg.last_error
    ParcelLeg.objects.filter(pk=leg.pk).update(next_poll_at=timezone.now())
    carrier.enqueue(
        Reply(
            404,
            b'{"returnCode":404,"returnMessage":"Numero inconnu","idShip":"%s"}'
            % a.tracking_number.encode(),
        )
    )
    polling.run_once()
    leg.refresh_from_db()
    assert leg.last_error.startswith("unknown_number") and leg.poll_failures == 0
    assert leg.next_poll_at - timezone.now() >= timedelta(hours=5)


def test_authentication_errors_pause_the_account_visibly(shop_a, account, carrier) -> None:
    parcels = _due(shop_a, 15)
    carrier.route = lambda request: Reply(
        401, b'{"code":"UNAUTHORIZED","message":"Invalid apikey"}'
    )
    report = polling.run_once()
    assert report.calls == 1
    account.refresh_from_db()
    assert "authentication refused" in account.last_error
    for parcel in parcels:
        leg = ParcelLeg.objects.get(parcel=parcel)
        assert leg.next_poll_at - timezone.now() >= timedelta(hours=5)
        assert leg.last_error.startswith("account:")


def test_the_accounts_rate_window_defers_the_rest(shop_a, carrier) -> None:
    services.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": "k"}, base_url=carrier.url,
        requests_per_minute=2,
    )  # fmt: skip
    _due(shop_a, 35)  # four calls needed
    report = polling.run_once(100)
    assert report.calls == 2 and report.deferred == 15
    later = ParcelLeg.objects.filter(parcel__status="pending")
    assert later.count() == 15
    assert all(leg.next_poll_at >= timezone.now() + timedelta(seconds=30) for leg in later)


def test_claims_never_overlap_and_a_dead_workers_lease_comes_back(shop_a, account) -> None:
    _due(shop_a, 30)
    first = polling.claim(20)
    second = polling.claim(20)
    assert len(first) == 20 and len(second) == 10 and not set(first) & set(second)
    assert polling.claim(20) == []
    later = timezone.now() + polling.LEASE + timedelta(seconds=1)
    assert sorted(polling.claim(100, now=later)) == sorted(first + second)


def test_a_parcel_silent_for_sixty_days_expires(shop_a, account, carrier) -> None:
    [parcel] = _due(shop_a, 1)
    Parcel.objects.filter(pk=parcel.pk).update(shipped_at=timezone.now() - timedelta(days=61))
    polling.run_once()
    parcel.refresh_from_db()
    assert parcel.status == "expired" and carrier.requests == []
    assert ParcelLeg.objects.get(parcel=parcel).next_poll_at is None
    assert parcel.events.get().raw_code == "SUIVI-EXP"


def test_legs_without_account_are_not_polled_until_one_is_added(shop_a, carrier) -> None:
    _order, [parcel] = shipped_order(shop_a, number())
    leg = ParcelLeg.objects.get(parcel=parcel)
    assert leg.account is None and leg.next_poll_at is None  # push only for now
    services.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": "k"}, base_url=carrier.url
    )
    leg.refresh_from_db()
    assert leg.account is not None and leg.next_poll_at is not None


def test_schedule_is_jittered_and_backoff_grows() -> None:
    now = timezone.now()
    times = {schedule.next_poll("in_transit", now=now, last_movement=now) for _ in range(20)}
    assert len(times) > 10  # jitter spreads parcels shipped together
    assert schedule.next_poll("delivered", now=now, last_movement=now) is None
    waits = [schedule.backoff(n, now=now) - now for n in (1, 3, 6, 20)]
    assert waits[0] <= timedelta(minutes=2) and waits[-1] <= schedule.BACKOFF_MAX
    assert schedule.backoff(1, now=now, retry_after=600) - now >= timedelta(seconds=600)


def test_a_daily_quota_defers_to_the_next_day(shop_a, carrier) -> None:
    services.account_create(
        shop=shop_a, carrier="laposte", credentials={"api_key": "k"}, base_url=carrier.url,
        requests_per_day=1,
    )  # fmt: skip
    _due(shop_a, 15)  # two calls needed, one allowed today
    report = polling.run_once(100)
    assert report.calls == 1 and report.deferred == 5
    later = ParcelLeg.objects.filter(parcel__status="pending")
    assert all(leg.next_poll_at >= timezone.now() + timedelta(hours=23) for leg in later)
    account = CarrierAccount.objects.get()
    assert account.day_calls == 1
    # The next day the quota is back.
    tomorrow = timezone.now() + timedelta(days=1, minutes=1)
    assert polling.take_call(account, polling.Limits(60, 1), now=tomorrow) is None
