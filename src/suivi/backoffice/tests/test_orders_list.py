"""The orders list: search by each key, filters, sort, pagination and bulk actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from suivi.orders.batch import order_create_many
from suivi.orders.lifecycle import Mode, Status
from suivi.orders.models import Order
from suivi.orders.tests.support import order_in_status
from suivi.shipments.models import Parcel, ParcelLeg
from suivi.shipments.services import ParcelInput, leg_add, parcels_create
from suivi.shops.models import Shop
from suivi.testing import make_order, order_input

from .support import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _list(user: Any, shop: Shop, **params: Any) -> Any:
    return client_for(user).get(reverse("backoffice:orders-list", args=[shop.slug]), params)


def _refs(response: Any) -> list[str]:
    return [row["order"].reference for row in response.context["rows"]]


def _ready(shop: Shop, **kwargs: Any) -> Order:
    return order_in_status(shop, Mode.DELIVERY, Status.READY_TO_SHIP, **kwargs)


def test_the_list_shows_the_shops_orders_only_with_their_facts(
    shop_a: Shop, shop_b: Shop, logistics_a: Any
) -> None:
    mine = make_order(shop_a, reference="A-1", paid=True)
    make_order(shop_b, reference="B-1")

    response = _list(logistics_a, shop_a)

    assert response.status_code == 200
    assert _refs(response) == ["A-1"]
    page = response.content.decode()
    assert "To prepare" in page and ">internal<" in page
    assert reverse("backoffice:orders-detail", args=[shop_a.slug, mine.pk]) in page
    assert "claire.martin@example.fr" in page and "Claire Martin" in page
    assert 'data-select-all="order"' in page and 'name="order"' in page


def test_search_by_order_number(shop_a: Shop, service_a: Any) -> None:
    make_order(shop_a, reference="CMD-777")
    make_order(shop_a, reference="CMD-778")

    assert _refs(_list(service_a, shop_a, q="CMD-777")) == ["CMD-777"]
    assert _refs(_list(service_a, shop_a, q="cmd-778")) == ["CMD-778"]
    assert _refs(_list(service_a, shop_a, q="CMD-779")) == []


def test_search_by_customer_name_and_email(shop_a: Shop, service_a: Any) -> None:
    make_order(shop_a, reference="C-1", email="claire.martin@example.fr")
    make_order(shop_a, reference="C-2", email="paul@example.org")

    assert _refs(_list(service_a, shop_a, q="paul@example.org")) == ["C-2"]
    assert _refs(_list(service_a, shop_a, q="example.org")) == ["C-2"]
    # Every order_input customer is "Claire Martin"; both words must match.
    assert sorted(_refs(_list(service_a, shop_a, q="claire martin"))) == ["C-1", "C-2"]
    assert _refs(_list(service_a, shop_a, q="claire dupont")) == []


def test_search_by_tracking_number_normalised_and_by_a_hand_off_leg(
    shop_a: Shop, shop_b: Shop, service_a: Any
) -> None:
    order = _ready(shop_a, reference="T-1")
    _ready(shop_a, reference="T-2")
    theirs = _ready(shop_b, reference="T-1B")
    parcels_create(shop=shop_a, order_id=order.pk, parcels=[ParcelInput("6A12345678901")])
    parcels_create(shop=shop_b, order_id=theirs.pk, parcels=[ParcelInput("6A99999999999")])
    parcel = Parcel.objects.get(order=order)
    leg_add(shop=shop_a, parcel_id=parcel.pk, carrier="", tracking_number="1Z999AA10123456784")

    assert _refs(_list(service_a, shop_a, q="6a 1234-5678 901")) == ["T-1"]
    assert _refs(_list(service_a, shop_a, q="1z999aa10123456784")) == ["T-1"]
    assert ParcelLeg.objects.filter(parcel=parcel).count() == 2
    assert _refs(_list(service_a, shop_a, q="6A99999999999")) == []


def test_status_filters_single_several_and_the_to_prepare_queue(
    shop_a: Shop, logistics_a: Any
) -> None:
    unpaid = make_order(shop_a, reference="S-unpaid")
    paid = make_order(shop_a, reference="S-paid", paid=True)
    routed = order_in_status(shop_a, Mode.DELIVERY, Status.ROUTED, reference="S-routed")
    preparing = order_in_status(
        shop_a, Mode.DELIVERY, Status.IN_PREPARATION, reference="S-preparing"
    )
    _ready(shop_a, reference="S-ready")

    assert _refs(_list(logistics_a, shop_a, status="awaiting_payment")) == [unpaid.reference]
    assert _refs(_list(logistics_a, shop_a, status="to_prepare")) == [
        preparing.reference,
        routed.reference,
        paid.reference,
    ]
    assert _refs(_list(logistics_a, shop_a, status=["ready_to_ship", "awaiting_payment"])) == [
        "S-ready",
        "S-unpaid",
    ]
    bad = _list(logistics_a, shop_a, status="nonsense")
    assert bad.status_code == 400 and bad.context["rows"] == []


def test_mode_carrier_date_exception_stalled_and_partial_filters(
    shop_a: Shop, logistics_a: Any
) -> None:
    delivery = make_order(shop_a, reference="F-delivery")
    pickup = make_order(shop_a, reference="F-pickup", mode=Mode.CLICK_AND_COLLECT)
    ups = _ready(shop_a, reference="F-ups")
    colissimo = _ready(shop_a, reference="F-colissimo")
    parcels_create(shop=shop_a, order_id=ups.pk, parcels=[ParcelInput("1Z999AA10123456784")])
    parcels_create(shop=shop_a, order_id=colissimo.pk, parcels=[ParcelInput("6A12345678901")])
    Parcel.objects.filter(order=colissimo).update(stalled_at=timezone.now())
    Order.objects.filter(pk=delivery.pk).update(
        placed_at=timezone.now() - dt.timedelta(days=40), exception_reason="delayed"
    )
    partial = make_order(shop_a, reference="F-partial", paid=True)
    Order.objects.filter(pk=partial.pk).update(is_partially_cancelled=True)
    cancelled = make_order(shop_a, reference="F-cancelled")
    Order.objects.filter(pk=cancelled.pk).update(is_partially_cancelled=True, status="cancelled")

    assert _refs(_list(logistics_a, shop_a, mode="click_and_collect")) == [pickup.reference]
    assert _refs(_list(logistics_a, shop_a, carrier="ups")) == ["F-ups"]
    assert _refs(_list(logistics_a, shop_a, exception="1")) == ["F-delivery"]
    assert _refs(_list(logistics_a, shop_a, stalled="1")) == ["F-colissimo"]
    assert _refs(_list(logistics_a, shop_a, partial="1")) == ["F-partial"]
    old = (timezone.now() - dt.timedelta(days=41)).date().isoformat()
    older = (timezone.now() - dt.timedelta(days=39)).date().isoformat()
    assert _refs(_list(logistics_a, shop_a, date_from=old, date_to=older)) == ["F-delivery"]
    assert "F-delivery" not in _refs(_list(logistics_a, shop_a, date_from=older))
    assert _list(logistics_a, shop_a, date_from=older, date_to=old).status_code == 400
    page = _list(logistics_a, shop_a).content.decode()
    assert "stalled" in page and "delayed" in page and "partially cancelled" in page


def test_sorts(shop_a: Shop, logistics_a: Any) -> None:
    make_order(shop_a, reference="B", lines=[("X", "X", "30.00", 1)])
    make_order(shop_a, reference="C", lines=[("X", "X", "10.00", 1)])
    make_order(shop_a, reference="A", lines=[("X", "X", "20.00", 1)], paid=True)

    assert _refs(_list(logistics_a, shop_a)) == ["A", "C", "B"]
    assert _refs(_list(logistics_a, shop_a, sort="oldest")) == ["B", "C", "A"]
    assert _refs(_list(logistics_a, shop_a, sort="reference")) == ["A", "B", "C"]
    assert _refs(_list(logistics_a, shop_a, sort="total_desc")) == ["B", "A", "C"]
    assert _refs(_list(logistics_a, shop_a, sort="total_asc")) == ["C", "A", "B"]
    assert _refs(_list(logistics_a, shop_a, sort="status")) == ["C", "B", "A"]


def _many(shop: Shop, count: int) -> None:
    # Totals repeat every 7 orders: the keyset must break ties by id.
    items = [
        order_input(reference=f"P-{i:03d}", lines=[("X", "X", f"{10 + i % 7}.00", 1)])
        for i in range(count)
    ]
    for start in range(0, count, 100):
        order_create_many(shop=shop, items=items[start : start + 100], actor="test")


@pytest.mark.parametrize("sort", ["newest", "oldest", "reference", "total_desc", "status"])
def test_pages_of_fifty_cover_every_order_once(shop_a: Shop, logistics_a: Any, sort: str) -> None:
    _many(shop_a, 123)
    client = client_for(logistics_a)
    url = reverse("backoffice:orders-list", args=[shop_a.slug])
    seen: list[str] = []
    response = client.get(url, {"sort": sort})
    pages = 0
    while True:
        pages += 1
        assert len(response.context["rows"]) == (50 if pages < 3 else 23)
        seen.extend(_refs(response))
        next_url = response.context["next_url"]
        if next_url is None:
            break
        assert "Next page" in response.content.decode()
        response = client.get(url + next_url)
    assert pages == 3
    assert sorted(seen) == sorted(f"P-{i:03d}" for i in range(123))
    if sort == "total_desc":
        totals = [Order.objects.get(shop=shop_a, reference=r).total_amount for r in seen]
        assert totals == sorted(totals, reverse=True)


def test_a_forged_cursor_shows_the_first_page(shop_a: Shop, logistics_a: Any) -> None:
    make_order(shop_a, reference="Only")
    assert _refs(_list(logistics_a, shop_a, cursor="!!notacursor")) == ["Only"]


def test_the_list_stays_a_few_queries(
    shop_a: Shop, logistics_a: Any, django_assert_max_num_queries: Any
) -> None:
    _many(shop_a, 60)
    client = client_for(logistics_a)
    url = reverse("backoffice:orders-list", args=[shop_a.slug])
    with django_assert_max_num_queries(12):
        client.get(url, {"q": "claire"})


# --- bulk actions -------------------------------------------------------------------------


def _bulk(user: Any, shop: Shop, ids: list[int], action: str, query: str = "") -> Any:
    return client_for(user).post(
        reverse("backoffice:orders-bulk", args=[shop.slug]),
        {"order": ids, "action": action, "query": query},
        follow=True,
    )


def test_a_bulk_action_reports_successes_and_refusals(
    shop_a: Shop, shop_b: Shop, logistics_a: Any
) -> None:
    first = make_order(shop_a, reference="U-1")
    second = make_order(shop_a, reference="U-2")
    ready = _ready(shop_a, reference="U-ready")
    theirs = make_order(shop_b, reference="U-theirs")
    ready_version = ready.version

    response = _bulk(
        logistics_a,
        shop_a,
        [first.pk, second.pk, ready.pk, theirs.pk],
        "confirm_payment",
        query="status=awaiting_payment",
    )

    assert response.redirect_chain[-1][0].endswith("?status=awaiting_payment")
    texts = [str(m) for m in response.context["messages"]]
    assert "Confirm payment: 2 of 4 orders done." in texts
    assert any(t.startswith("U-ready refused: Cannot confirm payment") for t in texts)
    assert any(t == f"#{theirs.pk} refused: No such order." for t in texts)
    assert set(
        Order.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)
    ) == {"to_prepare"}
    ready.refresh_from_db()
    assert (ready.status, ready.version) == ("ready_to_ship", ready_version)
    assert Order.objects.get(pk=theirs.pk).status == "awaiting_payment"


def test_a_bulk_action_needs_orders_and_a_known_action(shop_a: Shop, logistics_a: Any) -> None:
    order = make_order(shop_a)
    assert "Tick at least one order." in [
        str(m) for m in _bulk(logistics_a, shop_a, [], "confirm_payment").context["messages"]
    ]
    assert "Choose an action among the list." in [
        str(m) for m in _bulk(logistics_a, shop_a, [order.pk], "cancel").context["messages"]
    ]
    assert "Tick orders of the list." in [
        str(m) for m in _bulk(logistics_a, shop_a, ["x"], "confirm_payment").context["messages"]
    ]
    assert Order.objects.get(pk=order.pk).status == "awaiting_payment"


def test_customer_service_cannot_apply_bulk_actions(shop_a: Shop, service_a: Any) -> None:
    order = make_order(shop_a)
    response = client_for(service_a).post(
        reverse("backoffice:orders-bulk", args=[shop_a.slug]),
        {"order": [order.pk], "action": "confirm_payment"},
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).status == "awaiting_payment"
    page = _list(service_a, shop_a).content.decode()
    assert 'name="order"' not in page


def test_the_list_of_another_shop_is_a_404(shop_b: Shop, logistics_a: Any) -> None:
    assert _list(logistics_a, shop_b).status_code == 404
    response = client_for(logistics_a).post(
        reverse("backoffice:orders-bulk", args=[shop_b.slug]),
        {"order": [make_order(shop_b).pk], "action": "confirm_payment"},
    )
    assert response.status_code == 404
    assert Decimal(0) <= Order.objects.get(shop=shop_b).total_amount
    assert Order.objects.get(shop=shop_b).status == "awaiting_payment"
