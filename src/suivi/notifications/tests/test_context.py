"""The template context: plain data, every documented key, formatted per locale."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from suivi.notifications.catalog import EVENTS
from suivi.notifications.context import (
    marketing_block,
    order_context,
    readable_text_color,
    resolve_locale,
    sample_context,
)
from suivi.notifications.models import NotificationSettings
from suivi.orders.lifecycle import Action, CancellationReason, Mode
from suivi.orders.models import Order
from suivi.orders.services import (
    LineCancellation,
    order_apply_action,
    order_cancel,
    order_cancel_lines,
    order_create,
)
from suivi.shops.models import Shop
from suivi.testing import make_order, make_shop, order_input

LINKS = {
    "tracking": "https://suivi.example.fr/t/abc",
    "preferences": "https://suivi.example.fr/p/abc",
}
PULL, BONNET = 1, 2  # default order: 2 × Pull marin 49.90, 1 × Bonnet 15.00, shipping 4.90


def _load(order: Order) -> Order:
    return (
        Order.objects.select_related("shop", "customer", "pickup_location")
        .prefetch_related("lines")
        .get(pk=order.pk)
    )


def _context(order: Order, locale: str = "fr", **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "locale": locale,
        "events": [],
        "links": LINKS,
        "marketing": None,
        "informed_channels": ["email"],
        "settings": None,
    }
    params.update(kwargs)
    return order_context(_load(order), **params)


def _plain_types(value: Any, path: str = "ctx") -> None:
    """Fail on anything that is not JSON-like plain data (ORM objects, Decimal, lazy text)."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{path}: key {key!r}"
            _plain_types(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain_types(item, f"{path}[{index}]")
    else:
        assert value is None or type(value) in (str, bool, int, float), (
            f"{path} is a {type(value).__name__}"
        )


def _shape(value: Any) -> Any:
    """The key structure of a context (dict keys, recursively; first item of lists)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k != "payload"}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


TOP_KEYS = {
    "locale",
    "shop",
    "customer",
    "order",
    "pickup",
    "tracking",
    "event",
    "events",
    "claim",
    "return",
    "links",
    "marketing",
    "informed_channels",
    "informed_channels_text",
}
ORDER_KEYS = {
    "reference",
    "status",
    "status_label",
    "placed_at",
    "fulfilment_mode",
    "is_click_and_collect",
    "currency",
    "lines",
    "lines_total",
    "shipping",
    "has_shipping",
    "total",
    "original_total",
    "cancelled_amount",
    "has_cancellations",
    "promised_delivery_date",
    "cancellation_reason",
    "cancellation_reason_label",
    "sold_in_store",
    "shipping_address",
}
LINE_KEYS = {
    "name",
    "sku",
    "quantity",
    "quantity_cancelled",
    "quantity_remaining",
    "unit_price",
    "line_total",
    "original_line_total",
    "cancelled_total",
    "struck",
    "partially_struck",
}


# --- shape and safety -------------------------------------------------------------------


def test_the_context_is_plain_data_with_every_documented_key(shop_a: Shop) -> None:
    ctx = _context(make_order(shop_a, paid=True))
    _plain_types(ctx)
    assert set(ctx) == TOP_KEYS
    assert set(ctx["order"]) == ORDER_KEYS
    assert set(ctx["order"]["lines"][0]) == LINE_KEYS
    assert set(ctx["shop"]) == {
        "name",
        "sender_name",
        "primary_color",
        "accent_color",
        "primary_text_color",
        "accent_text_color",
        "logo_url",
    }
    assert set(ctx["customer"]) == {"first_name", "last_name", "full_name"}
    assert set(ctx["tracking"]) == {"url", "carrier", "number", "eta"}
    assert set(ctx["claim"]) == {"reference", "status", "status_label", "message"}
    assert ctx["return"] == {
        "id": "",
        "status": "",
        "status_label": "",
        "reason": "",
        "amount": "",
        "credit_note_number": "",
        "has_label": False,
    }
    assert set(ctx["links"]) == {"tracking", "order", "preferences"}
    assert set(ctx["event"]) == {"key", "type", "label", "at", "reason", "reason_label", "payload"}
    assert set(ctx["order"]["shipping_address"]) == {
        "name",
        "line1",
        "line2",
        "postcode",
        "city",
        "country",
        "country_code",
    }
    assert ctx["pickup"] is None and ctx["marketing"] is None


def test_a_loaded_order_needs_no_query(shop_a: Shop, django_assert_num_queries: Any) -> None:
    order = _load(make_order(shop_a, paid=True))
    with django_assert_num_queries(0):
        order_context(
            order,
            locale="fr",
            events=[
                {"type": "order.confirmed", "key": "confirmed", "id": 1, "at": "", "payload": {}}
            ],
            links=LINKS,
            marketing=None,
            informed_channels=["email"],
            settings=None,
        )


def test_payloads_are_copied_as_plain_data(shop_a: Shop) -> None:
    order = make_order(shop_a)
    payload: dict[str, Any] = {
        "note": "ok",
        "amount": Decimal("1.50"),
        "nested": {"when": dt.date(2025, 1, 2)},
    }
    ctx = _context(order, events=[{"type": "order.shipped", "payload": payload}])
    _plain_types(ctx)
    assert ctx["event"]["payload"] == {
        "note": "ok",
        "amount": "1.50",
        "nested": {"when": "2025-01-02"},
    }
    assert ctx["event"]["payload"] is not payload


def test_missing_event_keys_are_tolerated(shop_a: Shop) -> None:
    order = make_order(shop_a)
    ctx = _context(
        order, events=[{"type": "order.shipped"}, {}, {"payload": None, "at": "not a date"}]
    )
    assert [e["key"] for e in ctx["events"]] == ["shipped", "", ""]
    assert ctx["event"]["at"] == ""
    assert ctx["tracking"] == {"url": LINKS["tracking"], "carrier": "", "number": "", "eta": ""}


def test_shop_colours_are_checked_before_reaching_css(shop_a: Shop) -> None:
    shop_a.primary_color = "red;x"  # not a colour: never reaches a style attribute
    shop_a.accent_color = "#fff"
    ctx = sample_context(shop_a, event_key="shipped", locale="fr", links=LINKS)
    assert ctx["shop"]["primary_color"] == "#1F4E79"
    assert ctx["shop"]["accent_color"] == "#FFFFFF"
    assert ctx["shop"]["accent_text_color"] == "#000000"
    assert ctx["shop"]["primary_text_color"] == "#FFFFFF"


@pytest.mark.parametrize(
    ("background", "text"),
    [
        ("#FFFFFF", "#000000"),
        ("#000000", "#FFFFFF"),
        ("#F2A900", "#000000"),
        ("#1F4E79", "#FFFFFF"),
    ],
)
def test_button_text_colour_contrasts_with_its_background(background: str, text: str) -> None:
    assert readable_text_color(background) == text


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("fr", "fr"),
        ("en", "en"),
        ("fr-CA", "fr"),
        ("en_GB", "en"),
        ("EN", "en"),
        ("de", "fr"),
        ("", "fr"),
    ],
)
def test_locales_resolve_to_a_template_language(given: str, expected: str) -> None:
    assert resolve_locale(given) == expected


# --- formatting -------------------------------------------------------------------------


def test_money_dates_and_labels_follow_the_locale_and_the_shop_time_zone(db: None) -> None:
    placed = dt.datetime(2025, 3, 15, 17, 5, tzinfo=dt.UTC)
    paris = make_shop("Paris")
    york = make_shop("York", timezone_name="America/New_York")
    data = dataclasses.replace(
        order_input(paid=True), placed_at=placed, promised_delivery_date=dt.date(2025, 3, 20)
    )
    in_paris = order_create(shop=paris, data=data)
    in_york = order_create(shop=york, data=data)

    fr = _context(in_paris, "fr")
    assert fr["order"]["placed_at"] == "15 mars 2025 à 18:05"
    assert fr["order"]["promised_delivery_date"] == "20 mars 2025"
    assert fr["order"]["status_label"] == "Commande confirmée"
    assert fr["order"]["lines"][0]["unit_price"] == "49,90\u00a0€"
    assert fr["order"]["total"] == "119,70\u00a0€"
    assert fr["order"]["shipping_address"]["country"] == "France"

    en = _context(in_paris, "en")
    assert en["order"]["placed_at"].replace("\u202f", " ") == "March 15, 2025 at 6:05 PM"
    assert en["order"]["status_label"] == "Order confirmed"
    assert en["order"]["total"] == "€119.70"
    assert en["event"]["label"] == ""  # no event given

    assert _context(in_york, "fr")["order"]["placed_at"] == "15 mars 2025 à 13:05"


def test_partial_cancellation_strikes_lines_and_shows_both_totals(shop_a: Shop) -> None:
    order = make_order(
        shop_a,
        paid=True,
        lines=[("PULL-M", "Pull marin", "49.90", 2), ("BONNET", "Bonnet", "15.00", 1)],
    )
    order_cancel_lines(
        shop=shop_a,
        order_id=order.pk,
        cancellations=[LineCancellation(BONNET, 1), LineCancellation(PULL, 1)],
        reason=CancellationReason.SOLD_IN_STORE,
    )
    event = {"type": "order.lines_cancelled", "payload": {"reason": "sold_in_store", "lines": []}}
    ctx = _context(order, "fr", events=[event])
    pull, bonnet = ctx["order"]["lines"]
    assert (bonnet["struck"], bonnet["partially_struck"]) == (True, False)
    assert (bonnet["quantity_cancelled"], bonnet["quantity_remaining"]) == (1, 0)
    assert bonnet["line_total"] == "0,00\u00a0€" and bonnet["original_line_total"] == "15,00\u00a0€"
    assert (pull["struck"], pull["partially_struck"]) == (False, True)
    assert (pull["quantity"], pull["quantity_cancelled"], pull["quantity_remaining"]) == (2, 1, 1)
    assert pull["line_total"] == "49,90\u00a0€" and pull["cancelled_total"] == "49,90\u00a0€"
    o = ctx["order"]
    assert o["has_cancellations"] is True
    assert o["original_total"] == "119,70\u00a0€"  # 2 × 49.90 + 15.00 + 4.90
    assert o["total"] == "54,80\u00a0€"  # 49.90 + 4.90
    assert o["cancelled_amount"] == "64,90\u00a0€"
    assert o["cancellation_reason"] == "sold_in_store" and o["sold_in_store"] is True
    assert (
        o["cancellation_reason_label"]
        == "Les articles ont malheureusement déjà été vendus en magasin"
    )
    assert ctx["event"]["key"] == "partially_cancelled"
    assert _context(order, "en", events=[event])["order"]["cancellation_reason_label"] == (
        "The items were unfortunately already sold in store"
    )


def test_whole_cancellation_keeps_the_total_as_placed(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    order_cancel(shop=shop_a, order_id=order.pk, reason=CancellationReason.OUT_OF_STOCK)
    ctx = _context(order, "en")
    o = ctx["order"]
    assert all(line["struck"] for line in o["lines"])
    assert o["total"] == "€0.00"
    assert o["original_total"] == "€119.70"  # the shipping the row zeroed is included
    assert o["cancelled_amount"] == "€119.70"
    assert o["cancellation_reason"] == "out_of_stock" and o["sold_in_store"] is False
    assert o["status_label"] == "Cancelled"


def test_click_and_collect_gives_the_store_and_its_hours_in_the_locale(shop_a: Shop) -> None:
    order = make_order(shop_a, mode=Mode.CLICK_AND_COLLECT, paid=True)
    deadline = {
        "type": "order.ready_for_pickup",
        "payload": {"pickup_deadline": "2025-03-22T18:00:00+00:00"},
    }
    fr = _context(order, "fr", events=[deadline])
    assert fr["order"]["is_click_and_collect"] is True
    assert fr["pickup"] == {
        "kind": "store",
        "name": "Maison Lumière — boutique",
        "address": "12 rue de la République",
        "postcode": "69002",
        "city": "Lyon",
        "opening_hours": [
            {"day": "Lundi", "hours": "10:00–19:00"},
            {"day": "Dimanche", "hours": "fermé"},
        ],
        "deadline": "samedi 22 mars à 19:00",
    }
    en = _context(order, "en", events=[deadline])["pickup"]
    assert en["opening_hours"] == [
        {"day": "Monday", "hours": "10:00–19:00"},
        {"day": "Sunday", "hours": "closed"},
    ]
    assert en["deadline"].replace("\u202f", " ") == "Saturday, March 22 at 7:00 PM"


def test_a_relay_point_comes_from_the_event_payload(shop_a: Shop) -> None:
    order = make_order(shop_a)
    event = {
        "type": "order.available_for_pickup",
        "at": "2025-03-12T09:00:00Z",
        "payload": {
            "relay_point": {
                "name": "Tabac de la Gare",
                "address_line1": "2 av. de la Gare",
                "postcode": "69003",
                "city": "Lyon",
            },
            "pickup_deadline": "2025-03-22T18:00:00Z",
        },
    }
    ctx = _context(order, "fr", events=[event])
    assert ctx["pickup"]["kind"] == "relay_point"
    assert ctx["pickup"]["name"] == "Tabac de la Gare"
    assert ctx["pickup"]["address"] == "2 av. de la Gare"
    assert ctx["pickup"]["deadline"] == "samedi 22 mars à 19:00"
    assert ctx["event"]["at"] == "12 mars 2025 à 10:00"
    assert ctx["event"]["label"] == "Disponible en point relais"


def test_tracking_comes_from_the_events_else_from_the_order_timeline(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    order_apply_action(
        shop=shop_a,
        order_id=order.pk,
        action=Action.SHIP,
        payload={"carrier": "colissimo", "tracking_number": "6A123"},
    )
    order_apply_action(shop=shop_a, order_id=order.pk, action=Action.MARK_DELIVERED)
    # The delivered message carries no carrier: the timeline's shipment gives it.
    ctx = _context(order, events=[{"type": "order.delivered", "payload": {}}])
    assert (ctx["tracking"]["carrier"], ctx["tracking"]["number"]) == ("Colissimo", "6A123")
    # A later event naming another parcel wins.
    newer = {
        "type": "shipment.exception",
        "payload": {"carrier": "DPD", "tracking_number": "9", "reason": "damaged"},
    }
    ctx = _context(order, events=[newer])
    assert (ctx["tracking"]["carrier"], ctx["tracking"]["number"]) == ("DPD", "9")
    assert ctx["event"]["key"] == "exception"
    assert ctx["event"]["reason_label"] == "Colis endommagé"
    assert ctx["tracking"]["url"] == LINKS["tracking"] == ctx["links"]["tracking"]


def test_the_event_is_the_one_of_the_message_and_events_list_a_merged_burst(shop_a: Shop) -> None:
    order = make_order(shop_a)
    burst = [
        {"type": "order.in_preparation", "key": "in_preparation", "at": "2025-03-12T09:00:00Z"},
        {
            "type": "order.shipped",
            "key": "shipped",
            "at": "2025-03-12T09:05:00Z",
            "payload": {"carrier": "gls"},
        },
        {"type": "order.in_transit", "key": "in_transit", "at": "2025-03-12T09:06:00Z"},
    ]
    ctx = _context(order, "en", events=burst, event_key="shipped")
    assert ctx["event"]["key"] == "shipped"
    assert [e["label"] for e in ctx["events"]] == ["Being prepared", "Shipped", "On its way"]
    assert ctx["tracking"]["carrier"] == "GLS"
    assert _context(order, "en", events=burst)["event"]["key"] == "in_transit"


def test_informed_channels_are_listed_in_the_locale(shop_a: Shop) -> None:
    order = make_order(shop_a)
    fr = _context(order, "fr", informed_channels=["sms", "webhook", "email"])
    assert fr["informed_channels"] == [
        {"key": "email", "label": "e-mail"},
        {"key": "sms", "label": "SMS"},
    ]
    assert fr["informed_channels_text"] == "e-mail et SMS"
    en = _context(order, "en", informed_channels=["push", "email", "sms"])
    assert en["informed_channels_text"] == "email, text message, and browser notifications"
    assert _context(order, "fr", informed_channels=[])["informed_channels_text"] == ""


def test_marketing_is_the_shops_block_unless_the_customer_opted_out(shop_a: Shop) -> None:
    settings = NotificationSettings.objects.create(
        shop=shop_a,
        marketing_html="<p>Soldes</p>",
        marketing_text="Soldes",
        logo_url="https://cdn.example.fr/l.png",
    )
    assert marketing_block(settings, opted_out=False) == {"html": "<p>Soldes</p>", "text": "Soldes"}
    assert marketing_block(settings, opted_out=True) is None
    assert marketing_block(None, opted_out=False) is None
    empty = NotificationSettings(shop=shop_a)
    assert marketing_block(empty, opted_out=False) is None
    ctx = _context(
        make_order(shop_a), marketing=marketing_block(settings, opted_out=False), settings=settings
    )
    assert ctx["marketing"] == {"html": "<p>Soldes</p>", "text": "Soldes"}
    assert ctx["shop"]["logo_url"] == "https://cdn.example.fr/l.png"


def test_claims_read_their_payload(shop_a: Shop) -> None:
    event = {
        "type": "claim.replied",
        "payload": {"reference": "R-7", "status": "waiting_customer", "message": "Une photo ?"},
    }
    ctx = _context(make_order(shop_a), "fr", events=[event])
    assert ctx["claim"] == {
        "reference": "R-7",
        "status": "waiting_customer",
        "status_label": "en attente de votre réponse",
        "message": "Une photo ?",
    }
    assert ctx["event"]["key"] == "claim_update"


# --- samples ----------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("event_key", list(EVENTS))
def test_samples_have_the_shape_of_a_real_context(
    shop_a: Shop, event_key: str, locale: str
) -> None:
    sample = sample_context(shop_a, event_key=event_key, locale=locale, links=LINKS)
    real = _context(make_order(shop_a), locale, events=[{"type": "order.created"}])
    _plain_types(sample)
    for key in TOP_KEYS - {"pickup", "marketing"}:
        assert _shape(sample[key]) == _shape(real[key]), key
    assert sample["event"]["key"] == event_key
    assert sample["event"]["label"]
    assert sample["locale"] == locale


def test_samples_show_what_each_event_is_about(shop_a: Shop) -> None:
    def sample(key: str) -> dict[str, Any]:
        return sample_context(shop_a, event_key=key, locale="fr", links=LINKS)

    partial = sample("partially_cancelled")["order"]
    assert [line["struck"] for line in partial["lines"]] == [False, True]
    assert partial["total"] != partial["original_total"]
    cancelled = sample("cancelled")["order"]
    assert all(line["struck"] for line in cancelled["lines"]) and cancelled["sold_in_store"]
    store = sample("ready_for_pickup")["pickup"]
    assert (
        store["kind"] == "store" and store["name"] == "Maison Lumière — boutique"
    )  # the shop's store
    relay = sample("available_for_pickup")["pickup"]
    assert relay["kind"] == "relay_point" and relay["deadline"].endswith("à 19:00")
    assert sample("shipped")["tracking"]["number"]
    assert sample("delayed")["tracking"]["eta"]
    assert sample("claim_update")["claim"]["message"]
    assert sample("confirmed")["pickup"] is None


def test_sample_of_an_unknown_event_is_refused(shop_a: Shop) -> None:
    with pytest.raises(ValueError, match="nope"):
        sample_context(shop_a, event_key="nope", locale="fr", links=LINKS)
