"""The returns area: queue, one return, approve (label), refuse and refund with a
confirmation, mark received; wrong states, roles and tenant isolation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from suivi.backoffice import urls_returns
from suivi.notifications.models import OutboxMessage
from suivi.orders.models import CreditNote, OrderEvent
from suivi.returns import services
from suivi.returns.models import ReturnRequest
from suivi.returns.services import ReturnItem
from suivi.returns.tests.support import customer_user, delivered_order, lines_of, png_upload
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


def request_return(shop: Shop, *, skus: tuple[str, ...] = ("PULL-M",), order: Any = None) -> Any:
    """A return requested by the customer of a delivered order (one of each SKU)."""
    order = order or delivered_order(shop)
    user = customer_user(order, email=order.email)
    lines = lines_of(order)
    return services.return_request(
        user=user,
        order=order,
        lines=[ReturnItem(lines[sku].pk, 1, "damaged", "Torn seam") for sku in skus],
        note="The parcel was soaked.",
    )


def url(name: str, shop: Shop, *args: int) -> str:
    return reverse(f"backoffice:{name}", args=[shop.slug, *args])


def snapshot(ret: ReturnRequest) -> tuple[object, ...]:
    ret.refresh_from_db()
    return (
        ret.status,
        ret.instructions,
        ret.refusal_reason,
        ret.label_path,
        ret.refund_amount,
        ret.credit_note_id,
        CreditNote.objects.filter(order_id=ret.order_id).count(),
        OrderEvent.objects.filter(order_id=ret.order_id).count(),
        OutboxMessage.objects.filter(order_id=ret.order_id).count(),
    )


def approve(ret: ReturnRequest, user: Any) -> None:
    services.return_approve(ret=ret, user=user, instructions="Drop it at the post office.")


# --- the queue --------------------------------------------------------------------------


def test_the_queue_shows_requests_waiting_for_an_answer_first(
    shop_a: Shop, shop_b: Shop, service_a: Any
) -> None:
    order = delivered_order(shop_a)
    waiting = request_return(shop_a, order=order, skus=("PULL-M",))
    newer = request_return(shop_a, order=order, skus=("BONNET",))
    approve(newer, service_a)
    request_return(shop_b)
    client = client_for(service_a)
    response = client.get(url("returns-list", shop_a))
    assert response.status_code == 200
    assert [item["ret"].pk for item in response.context["items"]] == [waiting.pk, newer.pk]
    page = response.content.decode()
    assert page.index("Requested") < page.index("Approved")
    response = client.get(url("returns-list", shop_a), {"status": "approved"})
    assert [item["ret"].pk for item in response.context["items"]] == [newer.pk]
    assert client.get(url("returns-list", shop_a), {"status": "nope"}).status_code == 400


def test_the_detail_shows_lines_reasons_comment_and_history(shop_a: Shop, service_a: Any) -> None:
    ret = request_return(shop_a)
    page = client_for(service_a).get(url("returns-detail", shop_a, ret.pk)).content.decode()
    for text in ("Pull marin", "Damaged or defective", "Torn seam", "The parcel was soaked."):
        assert text in page, text
    assert ret.order.reference in page
    assert "Requested" in page and "Customer" in page  # the history
    for text in (">Approve<", ">Refuse<"):
        assert text in page, text
    assert "Mark received" not in page and ">Refund<" not in page  # not in this status


# --- decisions --------------------------------------------------------------------------


def test_approve_with_a_label(shop_a: Shop, service_a: Any, private_dir: Path) -> None:
    ret = request_return(shop_a)
    client = client_for(service_a)
    response = client.post(
        url("returns-approve", shop_a, ret.pk),
        {"instructions": "Use the label.", "label": png_upload()},
    )
    assert response.status_code == 302
    ret.refresh_from_db()
    assert (ret.status, ret.instructions, ret.label_content_type) == (
        "approved",
        "Use the label.",
        "image/png",
    )
    assert (private_dir / ret.label_path).is_file()
    label = client.get(url("returns-label", shop_a, ret.pk))
    assert label.status_code == 200 and label["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in label["Cache-Control"]
    page = client.get(url("returns-detail", shop_a, ret.pk)).content.decode()
    assert "Download the return label" in page and "Mark received" in page


@pytest.mark.parametrize(
    "data",
    [
        {"instructions": ""},
        {"instructions": "x", "label": "text"},
        {"instructions": "x" * 5001},
    ],
)
def test_a_bad_approval_changes_nothing(
    shop_a: Shop, service_a: Any, private_dir: Path, data: dict[str, Any]
) -> None:
    ret = request_return(shop_a)
    before = snapshot(ret)
    if data.get("label") == "text":
        data["label"] = SimpleUploadedFile(
            "label.pdf", b"not a pdf", content_type="application/pdf"
        )
    response = client_for(service_a).post(url("returns-approve", shop_a, ret.pk), data)
    assert response.status_code == 400
    assert snapshot(ret) == before
    assert (
        not list((private_dir / "returns").rglob("*.*"))
        if (private_dir / "returns").exists()
        else True
    )


def test_refuse_needs_a_reason_and_a_confirmation(shop_a: Shop, service_a: Any) -> None:
    ret = request_return(shop_a)
    client = client_for(service_a)
    before = snapshot(ret)
    assert client.get(url("returns-refuse", shop_a, ret.pk), {"reason": " "}).status_code == 400
    confirm = client.get(url("returns-refuse", shop_a, ret.pk), {"reason": "Worn items."})
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Refuse the return" in page and "Worn items." in page
    assert (
        client.post(url("returns-refuse", shop_a, ret.pk), {"reason": "Worn items."}).status_code
        == 400
    )
    assert client.post(url("returns-refuse", shop_a, ret.pk), {"confirmed": "1"}).status_code == 400
    assert snapshot(ret) == before
    response = client.post(
        url("returns-refuse", shop_a, ret.pk), {"reason": "Worn items.", "confirmed": "1"}
    )
    assert response.status_code == 302
    ret.refresh_from_db()
    assert (ret.status, ret.refusal_reason) == ("refused", "Worn items.")


def test_received_then_refunded_with_a_credit_note(
    shop_a: Shop, service_a: Any, logistics_a: Any
) -> None:
    ret = request_return(shop_a, skus=("PULL-M", "BONNET"))
    approve(ret, service_a)
    assert client_for(logistics_a).post(url("returns-receive", shop_a, ret.pk)).status_code == 302
    ret.refresh_from_db()
    assert ret.status == "received"

    client = client_for(service_a)
    confirm = client.get(url("returns-refund", shop_a, ret.pk))
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "€64.90" in page and "Pull marin" in page and "Bonnet" in page
    assert "A credit note will be issued" in page and "Confirm the refund" in page
    before = snapshot(ret)
    assert client.post(url("returns-refund", shop_a, ret.pk)).status_code == 400
    assert snapshot(ret) == before

    response = client.post(url("returns-refund", shop_a, ret.pk), {"confirmed": "1"})
    assert response.status_code == 302
    ret.refresh_from_db()
    assert ret.status == "refunded" and ret.refund_amount == Decimal("64.90")
    [credit_note] = CreditNote.objects.filter(order_id=ret.order_id)
    assert ret.credit_note_id == credit_note.pk and credit_note.total_amount == Decimal("64.90")
    page = client.get(url("returns-detail", shop_a, ret.pk)).content.decode()
    assert credit_note.number in page


def test_wrong_state_actions_show_the_message_and_change_nothing(
    shop_a: Shop, service_a: Any
) -> None:
    ret = request_return(shop_a)
    client = client_for(service_a)
    before = snapshot(ret)
    response = client.post(url("returns-receive", shop_a, ret.pk), follow=True)
    assert "Only an approved return can be marked as received." in response.content.decode()
    response = client.post(url("returns-refund", shop_a, ret.pk), {"confirmed": "1"}, follow=True)
    assert "Only an approved or received return can be refunded." in response.content.decode()
    assert snapshot(ret) == before

    services.return_refuse(ret=ret, user=service_a, reason="No.")
    before = snapshot(ret)
    response = client.post(
        url("returns-approve", shop_a, ret.pk), {"instructions": "Send it."}, follow=True
    )
    assert "Only a return waiting for an answer can be approved." in response.content.decode()
    response = client.post(
        url("returns-refuse", shop_a, ret.pk), {"reason": "Again", "confirmed": "1"}, follow=True
    )
    assert "Only a return waiting for an answer can be refused." in response.content.decode()
    assert snapshot(ret) == before


# --- roles and tenants ------------------------------------------------------------------


def test_logistics_receives_but_neither_decides_nor_refunds(
    shop_a: Shop, logistics_a: Any, service_a: Any
) -> None:
    ret = request_return(shop_a)
    client = client_for(logistics_a)
    before = snapshot(ret)
    assert (
        client.post(url("returns-approve", shop_a, ret.pk), {"instructions": "x"}).status_code
        == 403
    )
    assert client.get(url("returns-refuse", shop_a, ret.pk), {"reason": "x"}).status_code == 403
    assert (
        client.post(
            url("returns-refuse", shop_a, ret.pk), {"reason": "x", "confirmed": "1"}
        ).status_code
        == 403
    )
    assert snapshot(ret) == before
    approve(ret, service_a)
    before = snapshot(ret)
    assert client.get(url("returns-refund", shop_a, ret.pk)).status_code == 403
    assert client.post(url("returns-refund", shop_a, ret.pk), {"confirmed": "1"}).status_code == 403
    assert snapshot(ret) == before
    page = client.get(url("returns-detail", shop_a, ret.pk)).content.decode()
    assert "Mark received" in page and ">Refund<" not in page
    assert client.post(url("returns-receive", shop_a, ret.pk)).status_code == 302
    ret.refresh_from_db()
    assert ret.status == "received"


def test_every_url_answers_404_for_another_shops_ids(
    shop_a: Shop, shop_b: Shop, owner_a: Any, owner_b: Any
) -> None:
    theirs = request_return(shop_b)
    services.return_approve(
        ret=theirs, user=owner_b, instructions="Label attached", label=png_upload()
    )
    before = snapshot(theirs)
    client = client_for(owner_a)
    names = [p.name for p in urls_returns.urlpatterns if p.name != "returns-list"]
    assert len(names) == 6
    data = {"instructions": "x", "reason": "x", "confirmed": "1"}
    for name in names:
        for method in ("get", "post"):
            if (name, method) in {
                ("returns-detail", "post"),
                ("returns-label", "post"),
                ("returns-approve", "get"),
                ("returns-receive", "get"),
            }:
                continue
            response = getattr(client, method)(url(name, shop_a, theirs.pk), data)
            assert response.status_code == 404, (name, method, response.status_code)
            assert getattr(client, method)(url(name, shop_b, theirs.pk), data).status_code == 404
    assert snapshot(theirs) == before
