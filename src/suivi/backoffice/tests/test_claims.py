"""The claims inbox: queue, thread, replies and notes, assignment, statuses, resolutions,
photos; roles and tenant isolation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from suivi.backoffice import urls_claims
from suivi.claims import selectors, services
from suivi.claims.models import Claim, ClaimMessage
from suivi.claims.tests.support import jpeg_with_gps, upload
from suivi.customers.models import Customer
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import CreditNote, Order, OrderEvent
from suivi.shipments.models import Parcel, ParcelLeg
from suivi.shipments.tests.factories import number, shipped_order
from suivi.shops.models import Shop

from .support import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


@pytest.fixture(autouse=True)
def private_dir(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "private"
    settings.SUIVI_PRIVATE_DIR = path
    return path


def open_claim(shop: Shop, *, photo: bool = False) -> Claim:
    """A claim about an order shipped in one parcel, opened by its customer."""
    order, _parcels = shipped_order(shop)
    user_model = get_user_model()
    user = user_model.objects.filter(email=order.email).first() or user_model.objects.create_user(
        username=order.email, email=order.email
    )
    Customer.objects.filter(pk=order.customer_id).update(user=user)
    order = Order.objects.select_related("shop", "customer").get(pk=order.pk)
    return services.claim_open(
        customer_user=user,
        order=order,
        kind="damaged",
        description="The vase arrived broken.",
        photos=[upload("vase.jpg", jpeg_with_gps())] if photo else [],
    )


def url(name: str, shop: Shop, *args: int) -> str:
    return reverse(f"backoffice:{name}", args=[shop.slug, *args])


def snapshot(claim: Claim) -> tuple[object, ...]:
    claim.refresh_from_db()
    return (
        claim.status,
        claim.resolution,
        claim.resolution_note,
        claim.assignee_id,
        claim.due_at,
        ClaimMessage.objects.filter(claim=claim).count(),
        Parcel.objects.filter(order_id=claim.order_id).count(),
        CreditNote.objects.filter(order_id=claim.order_id).count(),
        OrderEvent.objects.filter(order_id=claim.order_id).count(),
        OutboxMessage.objects.filter(order_id=claim.order_id).count(),
    )


# --- the queue --------------------------------------------------------------------------


def test_the_queue_puts_the_most_overdue_first(shop_a: Shop, service_a: Any) -> None:
    later, overdue, done = open_claim(shop_a), open_claim(shop_a), open_claim(shop_a)
    now = timezone.now()
    Claim.objects.filter(pk=later.pk).update(due_at=now + dt.timedelta(days=2))
    Claim.objects.filter(pk=overdue.pk).update(due_at=now - dt.timedelta(hours=3))
    services.claim_resolve(claim=done, user=service_a, resolution="expedited_delivery")

    response = client_for(service_a).get(url("claims-list", shop_a))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [r["claim"].pk for r in rows] == [overdue.pk, later.pk, done.pk]
    assert [r["overdue"] for r in rows] == [True, False, False]
    assert rows[2]["resolved_in"]  # time to resolution shown for the resolved one
    page = response.content.decode()
    assert page.count(">Overdue<") == 1
    assert overdue.order.reference in page and "Damaged item or parcel" in page


def test_the_queue_filters_by_status_and_assignee(
    shop_a: Shop, shop_b: Shop, service_a: Any, owner_a: Any
) -> None:
    mine, theirs, nobody = open_claim(shop_a), open_claim(shop_a), open_claim(shop_a)
    open_claim(shop_b)
    services.claim_assign(claim=mine, user=service_a, assignee=service_a)
    services.claim_assign(claim=theirs, user=service_a, assignee=owner_a)
    services.claim_resolve(claim=theirs, user=owner_a, resolution="refund")
    client = client_for(service_a)

    def ids(**query: str) -> list[int]:
        response = client.get(url("claims-list", shop_a), query)
        assert response.status_code == 200
        return sorted(r["claim"].pk for r in response.context["rows"])

    assert ids() == sorted([mine.pk, theirs.pk, nobody.pk])  # never shop B's
    assert ids(assignee="mine") == [mine.pk]
    assert ids(assignee="unassigned") == [nobody.pk]
    assert ids(status="resolved") == [theirs.pk]
    assert ids(status="open", assignee="mine") == [mine.pk]
    assert client.get(url("claims-list", shop_a), {"status": "bogus"}).status_code == 400


# --- the thread -------------------------------------------------------------------------


def test_a_reply_reaches_the_customer_and_an_internal_note_does_not(
    shop_a: Shop, service_a: Any
) -> None:
    claim = open_claim(shop_a)
    client = client_for(service_a)

    response = client.post(
        url("claims-reply", shop_a, claim.pk), {"body": "A new vase leaves tomorrow."}
    )
    assert response.status_code == 302
    response = client.post(
        url("claims-reply", shop_a, claim.pk),
        {"body": "Third broken vase from this supplier.", "internal": "on"},
    )
    assert response.status_code == 302

    customer_sees = [m.body for m in selectors.customer_thread(claim)]
    assert customer_sees == ["A new vase leaves tomorrow."]
    queued = OutboxMessage.objects.filter(
        order_id=claim.order_id, customer__isnull=False, event_type__startswith="claim."
    )
    assert [m.event_type for m in queued] == ["claim.replied"]
    assert queued[0].events[0]["payload"]["message"] == "A new vase leaves tomorrow."
    claim.refresh_from_db()
    assert claim.status == "in_progress"

    customer_page = client_for(claim.customer.user).get(reverse("claims:detail", args=[claim.pk]))
    assert "A new vase leaves tomorrow." in customer_page.content.decode()
    assert "Third broken vase" not in customer_page.content.decode()

    page = client.get(url("claims-detail", shop_a, claim.pk)).content.decode()
    assert "Third broken vase from this supplier." in page
    assert page.count("Internal note</span>") == 1


def test_asking_the_customer_waits_for_them(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    client_for(service_a).post(
        url("claims-reply", shop_a, claim.pk),
        {"body": "Could you send a photo of the box?", "ask_customer": "on"},
    )
    claim.refresh_from_db()
    assert claim.status == "waiting_customer" and claim.due_at is None


@pytest.mark.parametrize(
    "data",
    [
        {"body": "  "},
        {"body": "x" * 5001},
        {"body": "Note", "internal": "on", "ask_customer": "on"},
    ],
)
def test_a_bad_reply_is_refused_with_nothing_written(
    shop_a: Shop, service_a: Any, data: dict[str, str]
) -> None:
    claim = open_claim(shop_a)
    before = snapshot(claim)
    response = client_for(service_a).post(url("claims-reply", shop_a, claim.pk), data)
    assert response.status_code == 400
    assert snapshot(claim) == before


def test_a_closed_claim_takes_notes_but_no_reply(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    services.claim_set_status(claim=claim, user=service_a, status="closed")
    before = snapshot(claim)
    client = client_for(service_a)
    response = client.post(url("claims-reply", shop_a, claim.pk), {"body": "Hello?"})
    assert response.status_code == 400
    assert "reopen it before answering" in response.content.decode()
    assert snapshot(claim) == before
    client.post(url("claims-reply", shop_a, claim.pk), {"body": "Note", "internal": "on"})
    assert ClaimMessage.objects.filter(claim=claim, internal=True).count() == 1


# --- assignment and status --------------------------------------------------------------


def test_assign_to_a_member_to_me_and_to_nobody(
    shop_a: Shop, service_a: Any, owner_a: Any, owner_b: Any
) -> None:
    claim = open_claim(shop_a)
    client = client_for(service_a)
    page = client.get(url("claims-detail", shop_a, claim.pk)).content.decode()
    assert owner_a.email in page and owner_b.email not in page  # the shop's staff only

    assert (
        client.post(url("claims-assign", shop_a, claim.pk), {"assignee": owner_a.pk}).status_code
        == 302
    )
    claim.refresh_from_db()
    assert claim.assignee_id == owner_a.pk
    client.post(url("claims-assign", shop_a, claim.pk), {"assignee": service_a.pk})
    claim.refresh_from_db()
    assert claim.assignee_id == service_a.pk
    client.post(url("claims-assign", shop_a, claim.pk), {"assignee": ""})
    claim.refresh_from_db()
    assert claim.assignee_id is None

    # Another shop's member is not a choice.
    response = client.post(url("claims-assign", shop_a, claim.pk), {"assignee": owner_b.pk})
    assert response.status_code == 400
    claim.refresh_from_db()
    assert claim.assignee_id is None


def test_status_change_follows_the_claim_rules(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    client = client_for(service_a)
    response = client.post(
        url("claims-status", shop_a, claim.pk), {"status": "closed", "note": "Solved by phone."}
    )
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == "closed"
    before = snapshot(claim)
    # From closed, only reopening is offered: anything else is refused.
    response = client.post(url("claims-status", shop_a, claim.pk), {"status": "waiting_customer"})
    assert response.status_code == 400
    assert snapshot(claim) == before
    client.post(url("claims-status", shop_a, claim.pk), {"status": "in_progress"})
    claim.refresh_from_db()
    assert claim.status == "in_progress"


# --- resolutions ------------------------------------------------------------------------


def _line_id(claim: Claim, position: int) -> int:
    return claim.order.lines.get(position=position).pk


def test_resolve_by_reship_creates_the_parcel_and_resolves(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    tracking = number()
    response = client_for(service_a).post(
        url("claims-resolve", shop_a, claim.pk),
        {
            "resolution": "reship",
            "tracking_number": tracking,
            f"qty_{_line_id(claim, 1)}": "1",
            f"qty_{_line_id(claim, 2)}": "0",
            "note": "Sent again today.",
        },
    )
    assert response.status_code == 302
    parcel = Parcel.objects.get(order_id=claim.order_id, tracking_number=tracking)
    assert ParcelLeg.objects.filter(parcel=parcel, tracking_number=tracking).exists()
    assert [(pl.order_line.position, pl.quantity) for pl in parcel.lines.all()] == [(1, 1)]
    claim.refresh_from_db()
    assert (claim.status, claim.resolution) == ("resolved", "reship")
    assert OutboxMessage.objects.filter(
        order_id=claim.order_id, event_type="claim.updated"
    ).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"tracking_number": "ZZ"},  # too short
        {"tracking_number": "NOT A NUMBER AT ALL"},  # no carrier recognises it
        {"tracking_number": "6A12345678901", "carrier": "pigeon"},  # unknown carrier
        {"tracking_number": ""},  # missing
        {"qty_line1": "0"},  # no item chosen
        {"qty_line1": "9"},  # more than shipped
    ],
)
def test_a_bad_reship_writes_nothing(shop_a: Shop, service_a: Any, data: dict[str, str]) -> None:
    claim = open_claim(shop_a)
    before = snapshot(claim)
    post = {"resolution": "reship", "tracking_number": number(), f"qty_{_line_id(claim, 1)}": "1"}
    for key, value in data.items():
        post[f"qty_{_line_id(claim, 1)}" if key == "qty_line1" else key] = value
    response = client_for(service_a).post(url("claims-resolve", shop_a, claim.pk), post)
    assert response.status_code == 400
    assert snapshot(claim) == before


def test_resolve_by_refund_issues_a_credit_note(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    response = client_for(service_a).post(
        url("claims-resolve", shop_a, claim.pk),
        {"resolution": "refund", f"qty_{_line_id(claim, 2)}": "1"},
    )
    assert response.status_code == 302
    [credit_note] = CreditNote.objects.filter(order_id=claim.order_id)
    assert credit_note.total_amount == Decimal("15.00")
    claim.refresh_from_db()
    assert (claim.status, claim.resolution) == ("resolved", "refund")
    assert credit_note.number in claim.resolution_note


def test_compensation_and_expedited_delivery(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    client = client_for(service_a)
    before = snapshot(claim)
    response = client.post(
        url("claims-resolve", shop_a, claim.pk), {"resolution": "compensation", "amount": "abc"}
    )
    assert response.status_code == 400
    assert snapshot(claim) == before
    client.post(
        url("claims-resolve", shop_a, claim.pk),
        {"resolution": "compensation", "amount": "12.50", "note": "Sorry."},
    )
    claim.refresh_from_db()
    assert claim.resolution == "compensation" and "12,50" in claim.resolution_note
    client.post(
        url("claims-resolve", shop_a, claim.pk),
        {"resolution": "expedited_delivery", "note": "Express tomorrow."},
    )
    claim.refresh_from_db()
    assert (claim.resolution, claim.resolution_note) == ("expedited_delivery", "Express tomorrow.")


def test_time_to_resolution_is_shown(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    services.claim_resolve(claim=claim, user=service_a, resolution="refund")
    Claim.objects.filter(pk=claim.pk).update(created_at=claim.resolved_at - dt.timedelta(hours=30))
    page = client_for(service_a).get(url("claims-detail", shop_a, claim.pk)).content.decode()
    assert "Resolved in 1 day 6 hours" in page


# --- photos -----------------------------------------------------------------------------


def test_photos_are_served_to_the_shops_staff_only(
    shop_a: Shop, shop_b: Shop, logistics_a: Any, owner_b: Any
) -> None:
    claim = open_claim(shop_a, photo=True)
    [photo] = claim.photos.all()
    client = client_for(logistics_a)
    page = client.get(url("claims-detail", shop_a, claim.pk)).content.decode()
    photo_url = url("claims-photo", shop_a, claim.pk, photo.pk)
    assert f'src="{photo_url}"' in page
    response = client.get(photo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(b"\xff\xd8")  # type: ignore[attr-defined]
    other = client_for(owner_b)
    assert other.get(url("claims-photo", shop_b, claim.pk, photo.pk)).status_code == 404
    assert other.get(photo_url).status_code == 404
    assert client.get(url("claims-photo", shop_a, claim.pk, photo.pk + 999)).status_code == 404


# --- roles and tenants ------------------------------------------------------------------


def test_logistics_sees_claims_but_cannot_act(shop_a: Shop, logistics_a: Any) -> None:
    claim = open_claim(shop_a)
    client = client_for(logistics_a)
    page = client.get(url("claims-detail", shop_a, claim.pk))
    assert page.status_code == 200
    assert "Send reply" not in page.content.decode()
    before = snapshot(claim)
    posts = {
        "claims-reply": {"body": "Hello"},
        "claims-assign": {"assignee": logistics_a.pk},
        "claims-status": {"status": "closed"},
        "claims-resolve": {"resolution": "expedited_delivery"},
    }
    for name, data in posts.items():
        assert client.post(url(name, shop_a, claim.pk), data).status_code == 403, name
    assert snapshot(claim) == before


def test_the_buttons_are_there_for_customer_service(shop_a: Shop, service_a: Any) -> None:
    claim = open_claim(shop_a)
    page = client_for(service_a).get(url("claims-detail", shop_a, claim.pk)).content.decode()
    for text in (
        "Send reply",
        "Internal note (not shown to the customer)",
        "Ask the customer for information",
        ">Assign<",
        "Assign to me",
        "Change status",
        ">Resolve<",
    ):
        assert text in page, text


def test_every_url_answers_404_for_another_shops_ids(
    shop_a: Shop, shop_b: Shop, owner_a: Any, owner_b: Any
) -> None:
    theirs = open_claim(shop_b, photo=True)
    [photo] = theirs.photos.all()
    before = snapshot(theirs)
    client = client_for(owner_a)
    names = [p.name for p in urls_claims.urlpatterns if p.name != "claims-list"]
    assert len(names) == 6
    for name in names:
        args = [theirs.pk, photo.pk] if name == "claims-photo" else [theirs.pk]
        method = "get" if name in ("claims-detail", "claims-photo") else "post"
        response = getattr(client, method)(
            url(name, shop_a, *args),
            {"body": "x", "assignee": "", "status": "closed", "resolution": "refund"},
        )
        assert response.status_code == 404, (name, response.status_code)
        # A member of A typing B's slug gets the shop's 404 too.
        assert getattr(client, method)(url(name, shop_b, *args)).status_code == 404
    assert client.get(url("claims-detail", shop_a, theirs.pk)).status_code == 404
    assert snapshot(theirs) == before
