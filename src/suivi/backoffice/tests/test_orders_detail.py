"""The order page and its actions: lifecycle buttons, shipping, cancellations, resend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from suivi.notifications import dispatch
from suivi.notifications.models import OutboxMessage
from suivi.orders.lifecycle import Mode, Status
from suivi.orders.models import Order, OrderEvent
from suivi.orders.tests.support import order_in_status, snapshot
from suivi.shipments.models import Parcel, ParcelLine
from suivi.shops.models import Location, Shop
from suivi.testing import make_order

from .support import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _url(name: str, shop: Shop, *args: Any) -> str:
    return reverse(f"backoffice:{name}", args=[shop.slug, *args])


def _texts(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _page(user: Any, order: Order) -> str:
    response = client_for(user).get(_url("orders-detail", order.shop, order.pk))
    assert response.status_code == 200
    return response.content.decode()


# --- the page -----------------------------------------------------------------------------


def test_the_page_shows_an_internal_status_with_its_tag_and_the_whole_timeline(
    shop_a: Shop, service_a: Any
) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, Status.ROUTED, phone="+33612345678")

    page = _page(service_a, order)

    assert order.reference in page
    assert "Routed to a warehouse" in page
    assert "internal — hidden from the customer" in page
    assert "Claire Martin" in page and order.email in page and "+33612345678" in page
    assert "3 place Bellecour" in page
    for event in OrderEvent.objects.filter(order=order):
        assert event.type in page
    assert "order.routed" in page and "order.confirmed" in page
    # Customer service holds no lifecycle right: no buttons, but it may cancel.
    assert "Start preparation" not in page and "Cancel order" in page


def test_a_public_status_has_no_internal_tag_and_a_pickup_order_shows_its_store(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = order_in_status(shop_a, Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP)
    page = _page(logistics_a, order)
    assert "Ready for pickup in store" in page
    assert "internal — hidden from the customer" not in page
    assert "Maison Lumière — boutique" in page
    assert "Mark collected" in page and "Mark ready to ship" not in page


def test_the_page_shows_parcels_with_carrier_events_and_messages(
    shop_a: Shop, owner_a: Any
) -> None:
    from suivi.customerweb.tests.support import shipped_order

    order = shipped_order(shop_a)
    dispatch.run_once()

    page = _page(owner_a, order)

    assert "6A12345678901" in page
    assert "Votre colis est en cours d&#x27;acheminement." in page
    assert "Chilly-Mazarin" in page
    assert "Order confirmed" in page and "Sent" in page
    assert ">Resend</button>" in page


def test_lines_show_cancelled_and_shipped_quantities_and_cancelled_lines_are_struck(
    shop_a: Shop, logistics_a: Any
) -> None:
    from suivi.orders.services import LineCancellation, order_cancel_lines

    order = make_order(shop_a, paid=True)
    order_cancel_lines(
        shop=shop_a,
        order_id=order.pk,
        cancellations=[LineCancellation(position=2, quantity=1)],
        reason="out_of_stock",
    )
    page = _page(logistics_a, order)
    assert '<tr class="struck">' in page
    assert page.count('aria-label="Cancel this line"') == 1
    assert "€99.80" in page and "€104.70" in page
    assert "partially cancelled" in page


# --- lifecycle buttons --------------------------------------------------------------------

CASES = [
    (Mode.DELIVERY, Status.AWAITING_PAYMENT, "confirm_payment", "Confirm payment", Status.TO_PREPARE),
    (Mode.DELIVERY, Status.TO_PREPARE, "hold_for_stock", "Hold for stock", Status.AWAITING_STOCK),
    (Mode.DELIVERY, Status.AWAITING_STOCK, "release", "Release", Status.TO_PREPARE),
    (Mode.DELIVERY, Status.TO_PREPARE, "start_preparation", "Start preparation", Status.IN_PREPARATION),
    (Mode.DELIVERY, Status.IN_PREPARATION, "mark_ready", "Mark ready to ship", Status.READY_TO_SHIP),
    (Mode.CLICK_AND_COLLECT, Status.IN_PREPARATION, "mark_ready", "Mark ready for pickup", Status.READY_FOR_PICKUP),
    (Mode.DELIVERY, Status.SHIPPED, "mark_in_transit", "Mark in transit", Status.IN_TRANSIT),
    (Mode.DELIVERY, Status.IN_TRANSIT, "mark_out_for_delivery", "Mark out for delivery", Status.OUT_FOR_DELIVERY),
    (Mode.DELIVERY, Status.SHIPPED, "mark_available_for_pickup", "Mark available for pickup", Status.AVAILABLE_FOR_PICKUP),
    (Mode.DELIVERY, Status.OUT_FOR_DELIVERY, "mark_delivered", "Mark delivered", Status.DELIVERED),
    (Mode.CLICK_AND_COLLECT, Status.READY_FOR_PICKUP, "mark_collected", "Mark collected", Status.COLLECTED),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "start", "action", "label", "end"), CASES)
def test_each_button_moves_the_order(
    shop_a: Shop, logistics_a: Any, mode: Mode, start: Status, action: str, label: str, end: Status
) -> None:
    order = order_in_status(shop_a, mode, start)
    assert f">{label}</button>" in _page(logistics_a, order)

    response = client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": action, "expected_version": order.version},
        follow=True,
    )

    updated = Order.objects.get(pk=order.pk)
    assert (updated.status, updated.version) == (end, order.version + 1)
    assert response.redirect_chain[-1][0] == _url("orders-detail", shop_a, order.pk)
    assert f"{order.reference} is now:" in _texts(response)[0]
    event = OrderEvent.objects.filter(order=order).latest("pk")
    assert event.actor == f"staff:{logistics_a.pk}"


def test_routing_records_the_warehouse_chosen(shop_a: Shop, logistics_a: Any) -> None:
    from suivi.shops.services import location_create

    second = location_create(
        shop=shop_a, kind=Location.Kind.WAREHOUSE, code="nord", name="Entrepôt Nord"
    )
    order = make_order(shop_a, paid=True)
    page = _page(logistics_a, order)
    assert "Route to a warehouse" in page and "Entrepôt Nord" in page

    client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "route", "expected_version": order.version, "warehouse": "nord"},
    )

    updated = Order.objects.get(pk=order.pk)
    assert (updated.status, updated.warehouse_id) == (Status.ROUTED, second.pk)
    assert OrderEvent.objects.filter(order=order).latest("pk").payload["warehouse"] == "nord"


def test_an_unknown_warehouse_changes_nothing(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    before = snapshot(order.pk)
    response = client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "route", "expected_version": order.version, "warehouse": "nowhere"},
        follow=True,
    )
    assert "The shop has no active warehouse 'nowhere'." in _texts(response)
    assert snapshot(order.pk) == before


@pytest.mark.parametrize("action", [case[2] for case in CASES] + ["route"])
def test_every_button_on_a_delivered_order_is_refused_and_changes_nothing(
    shop_a: Shop, logistics_a: Any, action: str
) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, Status.DELIVERED)
    before = snapshot(order.pk)

    response = client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": action, "expected_version": order.version},
        follow=True,
    )

    [text] = _texts(response)
    assert text.startswith(f"Cannot {action.replace('_', ' ')} an order that is delivered")
    assert snapshot(order.pk) == before


def test_an_invalid_transition_shows_the_message_and_changes_nothing(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = make_order(shop_a)
    before = snapshot(order.pk)

    response = client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "mark_delivered", "expected_version": order.version},
        follow=True,
    )

    assert _texts(response) == [
        "Cannot mark delivered an order that is awaiting_payment (delivery)."
    ]
    assert snapshot(order.pk) == before
    updated = Order.objects.get(pk=order.pk)
    assert (updated.status, updated.version) == (Status.AWAITING_PAYMENT, order.version)


def test_a_stale_page_is_refused_and_changes_nothing(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    stale = order.version
    client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "start_preparation", "expected_version": stale},
    )
    moved = Order.objects.get(pk=order.pk)
    before = snapshot(order.pk)

    response = client_for(logistics_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "mark_ready", "expected_version": stale},
        follow=True,
    )

    assert _texts(response) == [
        "The order changed meanwhile: nothing was changed. Check its current state and try again."
    ]
    assert snapshot(order.pk) == before
    assert (Order.objects.get(pk=order.pk).status, moved.status) == (
        Status.IN_PREPARATION,
        Status.IN_PREPARATION,
    )


def test_an_unknown_action_or_a_missing_version_changes_nothing(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = make_order(shop_a)
    before = snapshot(order.pk)
    client = client_for(logistics_a)
    for data in ({"action": "cancel", "expected_version": 1}, {"action": "confirm_payment"}):
        response = client.post(_url("orders-action", shop_a, order.pk), data, follow=True)
        assert _texts(response) == ["This action is not available here."]
    assert snapshot(order.pk) == before


def test_customer_service_cannot_move_an_order(shop_a: Shop, service_a: Any) -> None:
    order = make_order(shop_a)
    response = client_for(service_a).post(
        _url("orders-action", shop_a, order.pk),
        {"action": "confirm_payment", "expected_version": order.version},
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == Status.AWAITING_PAYMENT


# --- shipping -----------------------------------------------------------------------------


def _ready(shop: Shop) -> Order:
    return order_in_status(shop, Mode.DELIVERY, Status.READY_TO_SHIP)


def test_shipping_in_two_parcels_splits_the_lines(shop_a: Shop, logistics_a: Any) -> None:
    order = _ready(shop_a)  # PULL-M x2 (line 1), BONNET x1 (line 2)
    client = client_for(logistics_a)
    form = client.get(_url("orders-ship", shop_a, order.pk))
    assert form.status_code == 200 and ">Ship</button>" in form.content.decode()

    response = client.post(
        _url("orders-ship", shop_a, order.pk),
        {
            "expected_version": order.version,
            "tracking_0": "6A12345678901",
            "carrier_0": "colissimo",
            "qty_0_1": "2",
            "tracking_1": "1Z999AA10123456784",
            "service_1": "express",
            "qty_1_2": "1",
            "tracking_2": "",
        },
        follow=True,
    )

    assert response.redirect_chain[-1][0] == _url("orders-detail", shop_a, order.pk)
    parcels = list(Parcel.objects.filter(order=order).order_by("pk"))
    assert [(p.carrier, p.tracking_number, p.service) for p in parcels] == [
        ("colissimo", "6A12345678901", ""),
        ("ups", "1Z999AA10123456784", "express"),
    ]
    split = {
        (line.parcel.tracking_number, line.order_line.position, line.quantity)
        for line in ParcelLine.objects.filter(parcel__order=order).select_related(
            "parcel", "order_line"
        )
    }
    assert split == {("6A12345678901", 1, 2), ("1Z999AA10123456784", 2, 1)}
    updated = Order.objects.get(pk=order.pk)
    assert updated.status == Status.SHIPPED
    assert [line.quantity_shipped for line in updated.lines.order_by("position")] == [2, 1]
    assert "Shipped in 2 parcel(s)" in _texts(response)[0]


def test_shipping_one_parcel_from_the_order_page_detects_the_carrier(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = _ready(shop_a)
    page = _page(logistics_a, order)
    assert ">Ship</button>" in page

    client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk),
        {"expected_version": order.version, "tracking_0": "1z999aa1 0123456784"},
    )

    parcel = Parcel.objects.get(order=order)
    assert (parcel.carrier, parcel.tracking_number) == ("ups", "1Z999AA10123456784")
    assert Order.objects.get(pk=order.pk).status == Status.SHIPPED


def test_an_ambiguous_number_shows_the_candidates_and_writes_nothing(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = _ready(shop_a)
    before = snapshot(order.pk)

    response = client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk),
        {"expected_version": order.version, "tracking_0": "876543210010"},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Several carriers use numbers like this one" in page
    assert "Candidates: fedex, gls." in page
    assert not Parcel.objects.filter(order=order).exists()
    assert snapshot(order.pk) == before


def test_several_parcels_need_their_lines_and_nothing_is_written(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = _ready(shop_a)
    response = client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk),
        {"tracking_0": "6A12345678901", "tracking_1": "1Z999AA10123456784"},
    )
    assert response.status_code == 400
    assert "say which items go in each parcel" in response.content.decode()
    response = client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk), {"tracking_0": "", "qty_0_1": "1"}
    )
    assert response.status_code == 400
    assert not Parcel.objects.filter(order=order).exists()


def test_a_stale_ship_form_is_refused(shop_a: Shop, logistics_a: Any) -> None:
    order = _ready(shop_a)
    response = client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk),
        {"expected_version": order.version - 1, "tracking_0": "6A12345678901"},
        follow=True,
    )
    assert "The order changed meanwhile" in _texts(response)[0]
    assert not Parcel.objects.filter(order=order).exists()


def test_an_order_not_ready_cannot_be_shipped(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a)
    response = client_for(logistics_a).post(
        _url("orders-ship", shop_a, order.pk), {"tracking_0": "6A12345678901"}, follow=True
    )
    assert "cannot be shipped" in _texts(response)[0]
    assert not Parcel.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).status == Status.AWAITING_PAYMENT


def test_customer_service_cannot_ship(shop_a: Shop, service_a: Any) -> None:
    order = _ready(shop_a)
    client = client_for(service_a)
    assert client.get(_url("orders-ship", shop_a, order.pk)).status_code == 403
    response = client.post(_url("orders-ship", shop_a, order.pk), {"tracking_0": "6A12345678901"})
    assert response.status_code == 403
    assert not Parcel.objects.filter(order=order).exists()
    assert Order.objects.get(pk=order.pk).status == Status.READY_TO_SHIP
    assert ">Ship</button>" not in _page(service_a, order)


# --- cancellations ------------------------------------------------------------------------


def test_cancelling_the_whole_order_asks_first(shop_a: Shop, service_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    client = client_for(service_a)
    url = _url("orders-cancel", shop_a, order.pk)

    confirm = client.get(url)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert ">Cancel order</button>" in page and 'name="reason"' in page
    assert 'name="confirmed" value="1"' in page

    before = snapshot(order.pk)
    unconfirmed = client.post(url, {"reason": "out_of_stock"})
    assert unconfirmed.status_code == 302 and unconfirmed["Location"] == url
    assert snapshot(order.pk) == before

    bad = client.post(url, {"reason": "bored", "confirmed": "1"})
    assert bad.status_code == 400
    assert snapshot(order.pk) == before

    done = client.post(
        url, {"reason": "out_of_stock", "note": "Rupture", "confirmed": "1"}, follow=True
    )
    updated = Order.objects.get(pk=order.pk)
    assert (updated.status, updated.cancellation_reason, updated.cancellation_note) == (
        Status.CANCELLED,
        "out_of_stock",
        "Rupture",
    )
    assert updated.total_amount == Decimal("0")
    assert f"Order {order.reference} cancelled." in _texts(done)
    # The customer's apology goes through the pipeline.
    assert OutboxMessage.objects.filter(order=order, event_key="cancelled").exists()


def test_a_shipped_order_cannot_be_cancelled(shop_a: Shop, owner_a: Any) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, Status.SHIPPED)
    before = snapshot(order.pk)
    response = client_for(owner_a).post(
        _url("orders-cancel", shop_a, order.pk),
        {"reason": "out_of_stock", "confirmed": "1"},
        follow=True,
    )
    assert "can no longer be cancelled" in _texts(response)[0]
    assert snapshot(order.pk) == before


def test_cancelling_a_line_shows_the_new_total_then_cancels_that_quantity(
    shop_a: Shop, logistics_a: Any
) -> None:
    order = make_order(shop_a, paid=True)  # 2 x 49.90 + 1 x 15.00 + 4.90 = 119.70
    client = client_for(logistics_a)
    url = _url("orders-cancel-line", shop_a, order.pk, 1)

    confirm = client.get(url, {"quantity": "1"})
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "1 × PULL-M — Pull marin (€49.90 each)" in page
    assert "New order total: €69.80 (was €119.70)" in page
    assert ">Cancel line</button>" in page

    before = snapshot(order.pk)
    client.post(url, {"quantity": "1", "reason": "out_of_stock"})
    assert snapshot(order.pk) == before

    response = client.post(
        url, {"quantity": "1", "reason": "out_of_stock", "confirmed": "1"}, follow=True
    )
    updated = Order.objects.get(pk=order.pk)
    assert updated.total_amount == Decimal("69.80")
    assert updated.is_partially_cancelled and updated.status == Status.TO_PREPARE
    assert updated.lines.get(position=1).quantity_cancelled == 1
    assert "1 × PULL-M cancelled." in _texts(response)
    assert OutboxMessage.objects.filter(order=order, event_key="partially_cancelled").exists()


def test_cancelling_too_much_of_a_line_changes_nothing(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    before = snapshot(order.pk)
    url = _url("orders-cancel-line", shop_a, order.pk, 2)
    for quantity in ("2", "0", "x"):
        response = client_for(logistics_a).post(
            url, {"quantity": quantity, "reason": "out_of_stock", "confirmed": "1"}, follow=True
        )
        assert "Line 2 (BONNET) has 1 left to cancel." in _texts(response)
    assert (
        client_for(logistics_a).get(_url("orders-cancel-line", shop_a, order.pk, 9)).status_code
        == 404
    )
    assert snapshot(order.pk) == before


# --- messages -----------------------------------------------------------------------------


def test_resending_a_sent_message(shop_a: Shop, service_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    dispatch.run_once()
    message = OutboxMessage.objects.get(order=order, channel="email")
    assert message.status == OutboxMessage.Status.SENT

    response = client_for(service_a).post(
        _url("orders-resend", shop_a, order.pk, message.pk), follow=True
    )

    assert "The message will be sent again in a moment." in _texts(response)
    copies = OutboxMessage.objects.filter(order=order, channel="email").exclude(pk=message.pk)
    assert [(m.status, m.event_key, m.recipient) for m in copies] == [
        ("pending", message.event_key, message.recipient)
    ]
    assert ">resend<" in response.content.decode()


def test_a_pending_message_is_not_resent(shop_a: Shop, service_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    message = OutboxMessage.objects.get(order=order, channel="email")
    response = client_for(service_a).post(
        _url("orders-resend", shop_a, order.pk, message.pk), follow=True
    )
    assert "already waiting to be sent" in _texts(response)[0]
    assert OutboxMessage.objects.filter(order=order).count() == 1


def test_logistics_cannot_resend(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    dispatch.run_once()
    message = OutboxMessage.objects.get(order=order, channel="email")
    response = client_for(logistics_a).post(_url("orders-resend", shop_a, order.pk, message.pk))
    assert response.status_code == 403
    assert OutboxMessage.objects.filter(order=order).count() == 1
    assert ">Resend</button>" not in _page(logistics_a, order)


def test_a_message_of_another_order_is_a_404(shop_a: Shop, owner_a: Any) -> None:
    order = make_order(shop_a, paid=True)
    other = make_order(shop_a, paid=True)
    dispatch.run_once()
    message = OutboxMessage.objects.get(order=other, channel="email")
    response = client_for(owner_a).post(_url("orders-resend", shop_a, order.pk, message.pk))
    assert response.status_code == 404
    assert OutboxMessage.objects.count() == 2


# --- tenancy ------------------------------------------------------------------------------


def test_every_orders_url_answers_404_for_another_shops_order(
    shop_a: Shop, shop_b: Shop, owner_a: Any
) -> None:
    from suivi.backoffice import urls_orders

    theirs = order_in_status(shop_b, Mode.DELIVERY, Status.READY_TO_SHIP)
    dispatch.run_once()
    message = OutboxMessage.objects.filter(order=theirs).first()
    assert message is not None
    before = snapshot(theirs.pk)
    messages_before = OutboxMessage.objects.filter(order=theirs).count()
    client = client_for(owner_a)
    kwargs = {"order_id": theirs.pk, "position": 1, "message_id": message.pk}
    checked = []
    for pattern in urls_orders.urlpatterns:
        names = [
            n
            for n in ("order_id", "position", "message_id")
            if f"<int:{n}>" in str(pattern.pattern)
        ]
        if "order_id" not in names:
            continue
        url = reverse(
            f"backoffice:{pattern.name}",
            kwargs={"slug": shop_a.slug, **{n: kwargs[n] for n in names}},
        )
        data = {
            "action": "mark_in_transit", "expected_version": theirs.version,
            "tracking_0": "6A12345678901", "reason": "out_of_stock", "quantity": "1",
            "confirmed": "1",
        }  # fmt: skip
        answers = {client.get(url).status_code, client.post(url, data).status_code}
        # 405 only for the method a URL does not take (checked before the tenancy).
        assert answers in ({404}, {404, 405}), (url, answers)
        checked.append(pattern.name)
    assert sorted(checked) == [
        "orders-action",
        "orders-cancel",
        "orders-cancel-line",
        "orders-detail",
        "orders-resend",
        "orders-ship",
    ]
    assert snapshot(theirs.pk) == before
    assert not Parcel.objects.filter(order=theirs).exists()
    assert OutboxMessage.objects.filter(order=theirs).count() == messages_before


def test_the_order_page_reads_in_a_bounded_number_of_queries(
    shop_a: Shop, owner_a: Any, django_assert_max_num_queries: Any
) -> None:
    from suivi.customerweb.tests.support import shipped_order

    order = shipped_order(shop_a)
    dispatch.run_once()
    client = client_for(owner_a)
    url = _url("orders-detail", shop_a, order.pk)
    with django_assert_max_num_queries(25):
        assert client.get(url).status_code == 200
