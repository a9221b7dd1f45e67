"""Return services: the customer's request and cancellation, the shop's decisions to refund."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from suivi.core import events
from suivi.core.errors import InvalidInput, NotFound
from suivi.orders.models import CreditNote, OrderEvent
from suivi.returns import services
from suivi.returns.errors import (
    InvalidLabel,
    InvalidReturnQuantity,
    InvalidReturnTransition,
    NotReturnable,
)
from suivi.returns.lifecycle import ReturnStatus
from suivi.returns.models import ReturnLine, ReturnRequest
from suivi.returns.services import ReturnItem
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import customer_user, delivered_order, lines_of, pdf_upload, png_upload, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def published() -> Any:
    seen: list[events.DomainEvent] = []
    events.subscribe("return.", seen.append)
    yield seen
    events.unsubscribe("return.", seen.append)


def timeline(order_id: int) -> list[str]:
    return list(
        OrderEvent.objects.filter(order_id=order_id).order_by("id").values_list("type", flat=True)
    )


def request_all(order: Any, user: Any) -> ReturnRequest:
    lines = lines_of(order)
    return services.return_request(
        user=user,
        order=order,
        lines=[
            ReturnItem(lines["PULL-M"].pk, 2, "wrong_size", "Too small"),
            ReturnItem(lines["BONNET"].pk, 1, "damaged"),
        ],
        note="Sorry!",
    )


# --- the customer's request ----------------------------------------------------------------


def test_a_request_stores_its_lines_and_goes_on_the_order_timeline(
    shop_a: Shop, published: list[events.DomainEvent]
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = request_all(order, user)

    ret.refresh_from_db()
    assert (ret.shop_id, ret.order_id, ret.customer_id) == (shop_a.pk, order.pk, order.customer_id)
    assert ret.status == ReturnStatus.REQUESTED and ret.customer_note == "Sorry!"
    rows = {ln.order_line.sku: ln for ln in ReturnLine.objects.filter(return_request=ret)}
    assert {sku: (ln.quantity, ln.reason, ln.comment) for sku, ln in rows.items()} == {
        "PULL-M": (2, "wrong_size", "Too small"),
        "BONNET": (1, "damaged", ""),
    }
    assert all(ln.shop_id == shop_a.pk for ln in rows.values())
    event = OrderEvent.objects.get(order=order, type="return.requested")
    assert event.actor == f"customer:{order.customer_id}"
    assert event.payload["return_id"] == ret.pk
    assert [(ln["sku"], ln["quantity"], ln["reason"]) for ln in event.payload["lines"]] == [
        ("PULL-M", 2, "wrong_size"),
        ("BONNET", 1, "damaged"),
    ]
    assert "Too small" not in str(event.payload)  # free text stays on the return
    assert [(e.type, e.subject_id, e.payload["order_id"]) for e in published] == [
        ("return.requested", order.pk, order.pk)
    ]


def test_a_second_request_for_the_same_items_is_refused(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    request_all(order, user)
    with pytest.raises(NotReturnable) as caught:
        request_all(order, user)
    assert caught.value.details["reason"] == "nothing-left"
    assert ReturnRequest.objects.filter(order=order).count() == 1


def test_a_quantity_beyond_what_is_left_is_refused_and_nothing_written(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    pull = lines_of(order)["PULL-M"]
    services.return_request(user=user, order=order, lines=[ReturnItem(pull.pk, 1, "other")])
    before = timeline(order.pk)
    with translation.override("en"), pytest.raises(InvalidReturnQuantity) as caught:
        services.return_request(user=user, order=order, lines=[ReturnItem(pull.pk, 2, "other")])
    assert caught.value.details["eligible"] == 1
    assert caught.value.message == "Only 1 of “Pull marin” can be returned."
    assert ReturnRequest.objects.filter(order=order).count() == 1
    assert timeline(order.pk) == before


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([], InvalidInput),
        ([("PULL-M", 0, "other", "")], InvalidReturnQuantity),
        ([("PULL-M", -1, "other", "")], InvalidReturnQuantity),
        ([("PULL-M", 1, "bored", "")], InvalidInput),
        ([("PULL-M", 1, "other", ""), ("PULL-M", 1, "damaged", "")], InvalidInput),
        ([("PULL-M", 1, "other", "x" * 501)], InvalidInput),
    ],
)
def test_bad_lines_are_refused(shop_a: Shop, lines: list[tuple[Any, ...]], error: type) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ids = {sku: line.pk for sku, line in lines_of(order).items()}
    given = [(ids[sku], *rest) for sku, *rest in lines]
    with pytest.raises(error):
        services.return_request(user=user, order=order, lines=given)
    assert not ReturnRequest.objects.exists()


def test_a_line_of_another_order_is_refused(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    other = delivered_order(shop_a)
    user = customer_user(order)
    foreign = lines_of(other)["PULL-M"]
    with pytest.raises(InvalidInput):
        services.return_request(user=user, order=order, lines=[(foreign.pk, 1, "other", "")])
    assert not ReturnRequest.objects.exists()


def test_only_the_owner_can_request(shop_a: Shop, shop_b: Shop) -> None:
    order = delivered_order(shop_a)
    customer_user(order)
    stranger_order = delivered_order(shop_b, email="bob@example.fr")
    stranger = customer_user(stranger_order, email="bob@example.fr")
    pull = lines_of(order)["PULL-M"]
    with pytest.raises(NotFound):
        services.return_request(user=stranger, order=order, lines=[(pull.pk, 1, "other", "")])
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(NotFound):
        services.return_request(
            user=AnonymousUser(), order=order, lines=[(pull.pk, 1, "other", "")]
        )
    assert not ReturnRequest.objects.exists()


def test_after_the_window_the_request_is_refused_with_a_code(shop_a: Shop) -> None:
    order = delivered_order(shop_a, days_ago=45)
    user = customer_user(order)
    with pytest.raises(NotReturnable) as caught:
        request_all(order, user)
    assert caught.value.code == "not-returnable"
    assert caught.value.details["reason"] == "window-closed"
    assert not ReturnRequest.objects.exists()


def test_an_order_not_delivered_is_refused_with_a_code(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    user = customer_user(order)
    with pytest.raises(NotReturnable) as caught:
        request_all(order, user)
    assert caught.value.details["reason"] == "not-delivered"


# --- cancellation by the customer ---------------------------------------------------------


def test_the_customer_cancels_while_requested_only(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = request_all(order, user)
    cancelled = services.return_cancel(ret=ret, user=user)
    assert cancelled.status == ReturnStatus.CANCELLED
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.CANCELLED
    assert timeline(order.pk)[-1] == "return.cancelled"
    with pytest.raises(InvalidReturnTransition):
        services.return_cancel(ret=ret, user=user)

    approved = request_all(order, user)
    services.return_approve(ret=approved, user=staff_user(shop_a), instructions="Post it.")
    with pytest.raises(InvalidReturnTransition):
        services.return_cancel(ret=approved, user=user)
    assert ReturnRequest.objects.get(pk=approved.pk).status == ReturnStatus.APPROVED


def test_another_customer_cannot_cancel(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    other = delivered_order(shop_a, email="bob@example.fr")
    with pytest.raises(NotFound):
        services.return_cancel(ret=ret, user=customer_user(other, email="bob@example.fr"))
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.REQUESTED


# --- the shop's decisions -----------------------------------------------------------------


def test_approve_receive_refund_issues_a_credit_note_for_the_returned_lines(
    shop_a: Shop, private_dir: Path, published: list[events.DomainEvent]
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    lines = lines_of(order)
    ret = services.return_request(
        user=user,
        order=order,
        lines=[
            ReturnItem(lines["PULL-M"].pk, 1, "wrong_size"),
            ReturnItem(lines["BONNET"].pk, 1, "damaged"),
        ],
    )
    staff = staff_user(shop_a)

    ret = services.return_approve(
        ret=ret, user=staff, instructions="Drop it at any post office.", label=pdf_upload()
    )
    assert ret.status == ReturnStatus.APPROVED and ret.decided_at is not None
    stored = private_dir / ret.label_path
    assert ret.label_path.startswith(f"returns/{shop_a.pk}/") and ret.label_path.endswith(".pdf")
    assert stored.read_bytes().startswith(b"%PDF-")
    assert ret.label_content_type == "application/pdf"

    ret = services.return_mark_received(ret=ret, user=staff)
    assert ret.status == ReturnStatus.RECEIVED and ret.received_at is not None

    ret = services.return_refund(ret=ret, user=staff)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.REFUNDED and ret.refunded_at is not None
    assert ret.refund_amount == Decimal("64.90")
    note = CreditNote.objects.get(order=order)
    assert ret.credit_note_id == note.pk
    assert note.number.startswith(shop_a.credit_note_prefix)
    assert note.total_amount == Decimal("64.90") and note.shipping_amount == Decimal("0")
    assert note.reason == "return"
    assert [
        (ln["position"], ln["sku"], ln["quantity"], ln["unit_price"], ln["tax_rate"], ln["amount"])
        for ln in note.lines
    ] == [(1, "PULL-M", 1, "49.90", "20.00", "49.90"), (2, "BONNET", 1, "15.00", "20.00", "15.00")]

    assert timeline(order.pk)[-5:] == [
        "return.requested",
        "return.approved",
        "return.received",
        "order.credit_note_issued",
        "return.refunded",
    ]
    refunded = OrderEvent.objects.get(order=order, type="return.refunded")
    assert refunded.actor == f"staff:{staff.pk}"
    assert refunded.payload == {
        "return_id": ret.pk, "order_id": order.pk, "from": "received", "to": "refunded",
        "amount": "64.90", "currency": "EUR", "credit_note_number": note.number,
    }  # fmt: skip
    assert [e.type for e in published] == [
        "return.requested",
        "return.approved",
        "return.received",
        "return.refunded",
    ]

    with pytest.raises(InvalidReturnTransition):
        services.return_refund(ret=ret, user=staff)
    assert CreditNote.objects.filter(order=order).count() == 1


def test_an_approved_return_can_be_refunded_without_waiting_for_the_goods(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    staff = staff_user(shop_a)
    services.return_approve(ret=ret, user=staff, instructions="Keep it, we refund.")
    ret = services.return_refund(ret=ret, user=staff)
    assert ret.status == ReturnStatus.REFUNDED
    assert ret.refund_amount == Decimal("114.80")
    assert ret.credit_note is not None and ret.credit_note.total_amount == Decimal("114.80")


def test_a_shop_without_invoicing_refunds_without_a_credit_note(shop_b: Shop) -> None:
    assert not shop_b.invoicing_enabled
    order = delivered_order(shop_b)
    ret = request_all(order, customer_user(order))
    staff = staff_user(shop_b, "staff-b")
    services.return_approve(ret=ret, user=staff, instructions="Post it.")
    services.return_mark_received(ret=ret, user=staff)
    ret = services.return_refund(ret=ret, user=staff)
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.REFUNDED and ret.credit_note is None
    assert ret.refund_amount == Decimal("114.80")
    assert not CreditNote.objects.filter(order=order).exists()


def test_refusal_says_why_and_needs_a_reason(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    staff = staff_user(shop_a)
    with pytest.raises(InvalidInput):
        services.return_refuse(ret=ret, user=staff, reason="   ")
    ret = services.return_refuse(ret=ret, user=staff, reason="The item was worn.")
    ret.refresh_from_db()
    assert ret.status == ReturnStatus.REFUSED and ret.refusal_reason == "The item was worn."
    assert ret.decided_at is not None
    with pytest.raises(InvalidReturnTransition):
        services.return_approve(ret=ret, user=staff, instructions="Too late")
    with pytest.raises(InvalidReturnTransition):
        services.return_mark_received(ret=ret, user=staff)
    with pytest.raises(InvalidReturnTransition):
        services.return_refund(ret=ret, user=staff)


def test_received_needs_an_approval_first(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    staff = staff_user(shop_a)
    with pytest.raises(InvalidReturnTransition):
        services.return_mark_received(ret=ret, user=staff)
    with pytest.raises(InvalidReturnTransition):
        services.return_refund(ret=ret, user=staff)
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.REQUESTED


def test_approval_needs_instructions_or_a_label(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    staff = staff_user(shop_a)
    with pytest.raises(InvalidInput):
        services.return_approve(ret=ret, user=staff, instructions="  ")
    ret = services.return_approve(ret=ret, user=staff, instructions="", label=png_upload())
    assert ret.status == ReturnStatus.APPROVED and ret.label_content_type == "image/png"
    assert ret.label_path.endswith(".png")


def test_only_the_shop_staff_can_decide(shop_a: Shop, shop_b: Shop) -> None:
    order = delivered_order(shop_a)
    customer = customer_user(order)
    ret = request_all(order, customer)
    other_staff = staff_user(shop_b, "staff-b")
    for user in (other_staff, customer):
        with pytest.raises(NotFound):
            services.return_approve(ret=ret, user=user, instructions="Post it.")
        with pytest.raises(NotFound):
            services.return_refuse(ret=ret, user=user, reason="No.")
        with pytest.raises(NotFound):
            services.return_mark_received(ret=ret, user=user)
        with pytest.raises(NotFound):
            services.return_refund(ret=ret, user=user)
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.REQUESTED


@pytest.mark.parametrize(
    "upload",
    [
        SimpleUploadedFile(
            "label.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"
        ),
        SimpleUploadedFile("label.png", b"\x89PNG\r\n\x1a\n" + b"not an image" * 10, "image/png"),
        SimpleUploadedFile("label.jpg", b"\xff\xd8\xff\xe0 garbage", "image/jpeg"),
        SimpleUploadedFile("label.pdf", b"%PDF-1.4 truncated", "application/pdf"),
        SimpleUploadedFile("label.gif", b"GIF89a" + b"\x00" * 20, "image/gif"),
        SimpleUploadedFile("label.pdf", b"", "application/pdf"),
    ],
    ids=["html", "fake-png", "fake-jpeg", "truncated-pdf", "gif", "empty"],
)
def test_a_bad_label_is_refused_and_nothing_is_kept(
    shop_a: Shop, private_dir: Path, upload: SimpleUploadedFile
) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    with pytest.raises(InvalidLabel) as caught:
        services.return_approve(
            ret=ret, user=staff_user(shop_a), instructions="Post it.", label=upload
        )
    assert caught.value.code == "invalid-label"
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.REQUESTED
    assert not private_dir.exists() or not any(p.is_file() for p in private_dir.rglob("*"))


def test_a_label_over_10_mb_is_refused(shop_a: Shop, private_dir: Path) -> None:
    order = delivered_order(shop_a)
    ret = request_all(order, customer_user(order))
    with pytest.raises(InvalidLabel):
        services.return_approve(
            ret=ret, user=staff_user(shop_a), instructions="x", label=pdf_upload(size=10 * 2**20)
        )
    assert not private_dir.exists() or not any(p.is_file() for p in private_dir.rglob("*"))


def test_a_refused_approval_does_not_leave_its_label_behind(
    shop_a: Shop, private_dir: Path
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = request_all(order, user)
    services.return_cancel(ret=ret, user=user)
    with pytest.raises(InvalidReturnTransition):
        services.return_approve(
            ret=ret, user=staff_user(shop_a), instructions="x", label=pdf_upload()
        )
    assert not any(p.is_file() for p in private_dir.rglob("*"))
