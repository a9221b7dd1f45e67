"""Demo parcels: every tracking story of the demo lands through the real ingestion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from suivi.demo.loader import demo_load
from suivi.demo.tracking import STORIES, demo_tracking
from suivi.notifications.models import OutboxMessage
from suivi.shipments.models import CarrierAccount, Parcel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _private_data_dir(settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_demo_parcels_cover_every_story_with_their_notifications() -> None:
    report = demo_load()
    created = demo_tracking(report.shops)
    assert created == Parcel.objects.count() >= len(STORIES) + 2
    statuses = set(Parcel.objects.values_list("status", flat=True))
    assert {"in_transit", "out_for_delivery", "available_for_pickup", "delivered"} <= statuses
    assert {"failed_attempt", "exception"} <= statuses
    assert Parcel.objects.filter(stalled_at__isnull=False).exists()
    assert Parcel.objects.filter(customs="held").exists()
    relay = Parcel.objects.get(status="available_for_pickup")
    assert relay.order.status == "available_for_pickup" and relay.pickup_deadline is not None
    assert OutboxMessage.objects.filter(event_key="failed_attempt").exists()
    assert not CarrierAccount.objects.exists()  # the demo never calls a carrier


def test_the_demo_customer_has_claims_and_a_return_for_the_back_office(settings: Any) -> None:
    from suivi.claims.models import Claim
    from suivi.demo.aftersales import demo_aftersales
    from suivi.returns.models import ReturnRequest

    settings.SUIVI_PRIVATE_DIR = settings.DATA_DIR / "private"
    report = demo_load()
    demo_tracking(report.shops)

    opened = demo_aftersales(report.shops)

    # The shop with her parcels: one delivered (damaged, a return), one in transit (late).
    assert opened == Claim.objects.count() >= 2
    assert set(Claim.objects.values_list("kind", flat=True)) == {"damaged", "delayed"}
    assert Claim.objects.filter(kind="damaged", photos__isnull=False).exists()
    assert ReturnRequest.objects.filter(status="requested").exists()
    assert demo_aftersales(report.shops) == 0  # loaded again: nothing twice
