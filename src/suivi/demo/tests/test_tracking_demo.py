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
