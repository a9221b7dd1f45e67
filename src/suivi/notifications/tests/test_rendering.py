"""Rendering: every default, the merchants' sandboxed overrides, escaping and fallbacks."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from suivi.notifications import rendering
from suivi.notifications.catalog import CUSTOMER_CHANNELS, EMAIL, EVENTS, PUSH, SMS
from suivi.notifications.context import marketing_block, order_context, sample_context
from suivi.notifications.models import NotificationSettings, Template
from suivi.notifications.rendering import (
    DEFAULTS_DIR,
    PUSH_BODY_MAX,
    Rendered,
    check_override,
    render,
)
from suivi.orders.lifecycle import CancellationReason, Mode
from suivi.orders.models import Order
from suivi.orders.services import (
    CustomerInput,
    LineCancellation,
    order_cancel,
    order_cancel_lines,
    order_create,
)
from suivi.shops.models import Shop
from suivi.testing import make_order, order_input

# A realistic tracking link of 60 characters.
TRACKING = "https://suivi.maison-lumiere.fr/t/Xk3p9QmZ7vB2nL8rT4wY6cA0dE"
PREFERENCES = "https://suivi.maison-lumiere.fr/p/Xk3p9QmZ7vB2nL8rT4wY6cA0"
LINKS = {"tracking": TRACKING, "preferences": PREFERENCES}
LOCALES = ("fr", "en")
C_AND_C_EVENTS = {"ready_for_pickup", "collected", "pickup_reminder"}
assert len(TRACKING) == 60


def _load(order: Order) -> Order:
    return (
        Order.objects.select_related("shop", "customer", "pickup_location")
        .prefetch_related("lines")
        .get(pk=order.pk)
    )


def _ctx(order: Order, locale: str, event_key: str = "", **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "locale": locale,
        "events": [{"type": f"order.{event_key}", "key": event_key, "payload": {}}]
        if event_key
        else [],
        "links": LINKS,
        "marketing": None,
        "informed_channels": ["email", "sms"],
        "settings": None,
    }
    params.update(kwargs)
    return order_context(_load(order), **params)


def _sample(shop: Shop, event_key: str, locale: str) -> dict[str, Any]:
    return sample_context(shop, event_key=event_key, locale=locale, links=LINKS)


def _override(shop: Shop, event_key: str, channel: str, **fields: str) -> Template:
    return Template(shop=shop, event_key=event_key, channel=channel, locale="fr", **fields)


def _assert_carries_tracking(result: Rendered, channel: str, context: dict[str, Any]) -> None:
    if channel == EMAIL:
        assert TRACKING in result.text
        assert f'href="{TRACKING}"' in result.html
    elif channel == SMS:
        # The tracking link, or the order's page in the customer space (return updates).
        space = context["links"]["order"]
        assert TRACKING in result.text or (space and space in result.text)
    else:
        assert result.url == TRACKING


def _visible(html: str) -> str:
    """The text of an HTML document, whitespace collapsed (for phrase assertions)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- every default ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("channel", CUSTOMER_CHANNELS)
@pytest.mark.parametrize("event_key", list(EVENTS))
def test_every_default_file_exists(event_key: str, channel: str, locale: str) -> None:
    assert (DEFAULTS_DIR / locale / f"{event_key}.{channel}.j2").is_file()


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_key", list(EVENTS))
def test_every_default_renders_from_a_sample(shop_a: Shop, event_key: str, locale: str) -> None:
    ctx = _sample(shop_a, event_key, locale)
    for channel in CUSTOMER_CHANNELS:
        result = render(event_key=event_key, channel=channel, locale=locale, context=ctx)
        assert result.problems == [] and result.used_override is False
        assert result.text.strip(), (event_key, channel)
        assert "CMD-004217" in result.text or "CMD-004217" in result.subject
        _assert_carries_tracking(result, channel, ctx)
        if channel == EMAIL:
            assert result.subject and "\n" not in result.subject
            assert result.html.startswith("<!DOCTYPE html>")
            assert f'<html lang="{locale}"' in result.html
            assert PREFERENCES in result.html and PREFERENCES in result.text
        if channel == PUSH:
            assert result.subject and len(result.subject) <= rendering.PUSH_TITLE_MAX
            assert len(result.text) <= PUSH_BODY_MAX and result.html == ""
        if channel == SMS:
            assert result.subject == "" and result.html == ""
            assert result.segments is not None


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_key", list(EVENTS))
def test_every_default_renders_from_a_real_order(shop_a: Shop, event_key: str, locale: str) -> None:
    mode = Mode.CLICK_AND_COLLECT if event_key in C_AND_C_EVENTS else Mode.DELIVERY
    order = make_order(shop_a, mode=mode, paid=True)
    ctx = _ctx(order, locale, event_key)
    for channel in CUSTOMER_CHANNELS:
        result = render(event_key=event_key, channel=channel, locale=locale, context=ctx)
        assert result.problems == []
        assert order.reference in result.text or order.reference in result.subject
        _assert_carries_tracking(result, channel, ctx)
        # Template syntax never leaks into a message.
        for part in (result.subject, result.text, result.html):
            assert "{{" not in part and "{%" not in part


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("event_key", list(EVENTS))
def test_sms_defaults_are_gsm7_and_fit_two_segments_with_a_60_character_link(
    shop_a: Shop, event_key: str, locale: str
) -> None:
    result = render(
        event_key=event_key, channel=SMS, locale=locale, context=_sample(shop_a, event_key, locale)
    )
    assert result.segments is not None
    assert result.segments.encoding == "GSM-7", result.text
    assert 1 <= result.segments.segments <= 2, result.text
    assert result.text.startswith("Maison Lumière")


def test_most_sms_defaults_fit_one_segment(shop_a: Shop) -> None:
    singles = [
        key
        for key in EVENTS
        if (
            segments := render(
                event_key=key, channel=SMS, locale="fr", context=_sample(shop_a, key, "fr")
            ).segments
        )
        and segments.segments == 1
    ]
    assert {"confirmed", "in_preparation", "shipped", "delivered"} <= set(singles)


# --- what the seeds ask the messages to say ---------------------------------------------


def _partially_cancelled(shop: Shop, reason: CancellationReason) -> Order:
    order = make_order(shop, paid=True)  # 2 × Pull marin 49.90, 1 × Bonnet 15.00, shipping 4.90
    order_cancel_lines(
        shop=shop, order_id=order.pk, cancellations=[LineCancellation(2, 1)], reason=reason
    )
    return order


@pytest.mark.parametrize(
    ("locale", "marker", "new_total", "old_total"),
    [
        ("fr", "[ANNULÉ]", "104,70\u00a0€", "119,70\u00a0€"),
        ("en", "[CANCELLED]", "€104.70", "€119.70"),
    ],
)
def test_partial_cancellation_strikes_the_cancelled_lines_and_shows_the_new_total(
    shop_a: Shop, locale: str, marker: str, new_total: str, old_total: str
) -> None:
    order = _partially_cancelled(shop_a, CancellationReason.OUT_OF_STOCK)
    ctx = _ctx(
        order,
        locale,
        events=[{"type": "order.lines_cancelled", "payload": {"reason": "out_of_stock"}}],
    )
    result = render(event_key="partially_cancelled", channel=EMAIL, locale=locale, context=ctx)
    assert result.problems == []
    # HTML: the cancelled line and its amount struck through, the kept line not.
    assert re.search(r"<del[^>]*>1 × Bonnet</del>", result.html)
    assert re.search(r"<del[^>]*>15,00\u00a0€</del>|<del[^>]*>€15.00</del>", result.html)
    assert not re.search(r"<del[^>]*>[^<]*Pull marin", result.html)
    assert new_total in result.html and old_total in result.html
    # Text: the cancelled line clearly marked, the kept one not; the new total.
    cancelled_line = next(line for line in result.text.splitlines() if "Bonnet" in line)
    kept_line = next(line for line in result.text.splitlines() if "Pull marin" in line)
    assert marker in cancelled_line and marker not in kept_line
    assert new_total in result.text and old_total in result.text


@pytest.mark.parametrize(
    ("locale", "sold_phrase", "apology"),
    [
        ("fr", "déjà été vendus en magasin", "désolés"),
        ("en", "already been sold in store", "sorry"),
    ],
)
def test_cancellation_apologises_and_says_when_items_were_sold_in_store(
    shop_a: Shop, locale: str, sold_phrase: str, apology: str
) -> None:
    sold = make_order(shop_a, paid=True)
    order_cancel(shop=shop_a, order_id=sold.pk, reason=CancellationReason.SOLD_IN_STORE)
    other = make_order(shop_a, paid=True)
    order_cancel(shop=shop_a, order_id=other.pk, reason=CancellationReason.OUT_OF_STOCK)
    for order, says_sold in ((sold, True), (other, False)):
        event = {"type": "order.cancelled", "payload": {"reason": order.cancellation_reason}}
        ctx = _ctx(order, locale, events=[event])
        email = render(event_key="cancelled", channel=EMAIL, locale=locale, context=ctx)
        assert apology in email.text
        assert apology in _visible(email.html)
        assert (sold_phrase in email.text) is says_sold
        assert (sold_phrase in _visible(email.html)) is says_sold
        # The whole order struck through, with the amount cancelled.
        assert "<del" in email.html
        assert ("119,70" if locale == "fr" else "119.70") in email.text


@pytest.mark.parametrize(
    ("locale", "channels_text"), [("fr", "e-mail et SMS"), ("en", "email and text message")]
)
def test_confirmation_says_how_the_customer_will_be_informed(
    shop_a: Shop, locale: str, channels_text: str
) -> None:
    ctx = _ctx(make_order(shop_a, paid=True), locale, "confirmed")
    email = render(event_key="confirmed", channel=EMAIL, locale=locale, context=ctx)
    assert channels_text in email.text and channels_text in email.html
    assert PREFERENCES in email.text
    assert f'href="{PREFERENCES}"' in email.html
    # The order summary: its lines and total.
    assert "Pull marin" in email.text and "Bonnet" in email.text
    assert ("119,70" if locale == "fr" else "119.70") in email.text


def test_shipped_gives_carrier_and_tracking_number(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    event = {
        "type": "order.shipped",
        "payload": {"carrier": "chronopost", "tracking_number": "XY123456789FR"},
    }
    for locale in LOCALES:
        ctx = _ctx(order, locale, events=[event])
        for channel in (EMAIL, SMS):
            result = render(event_key="shipped", channel=channel, locale=locale, context=ctx)
            assert "Chronopost" in result.text and "XY123456789FR" in result.text
        email = render(event_key="shipped", channel=EMAIL, locale=locale, context=ctx)
        assert "XY123456789FR" in email.html


def test_ready_for_pickup_gives_the_store_address_and_hours(shop_a: Shop) -> None:
    order = make_order(shop_a, mode=Mode.CLICK_AND_COLLECT, paid=True)
    email = render(
        event_key="ready_for_pickup",
        channel=EMAIL,
        locale="fr",
        context=_ctx(order, "fr", "ready_for_pickup"),
    )
    for expected in (
        "Maison Lumière — boutique",
        "12 rue de la République",
        "69002 Lyon",
        "Lundi : 10:00–19:00",
        "Dimanche : fermé",
    ):
        assert expected in email.text
        assert expected in email.html


def test_relay_point_message_gives_the_deadline(shop_a: Shop) -> None:
    order = make_order(shop_a)
    event = {
        "type": "order.available_for_pickup",
        "payload": {
            "relay_point": {"name": "Tabac de la Gare"},
            "pickup_deadline": "2025-03-22T18:00:00Z",
        },
    }
    ctx = _ctx(order, "fr", events=[event])
    for channel in CUSTOMER_CHANNELS:
        result = render(event_key="available_for_pickup", channel=channel, locale="fr", context=ctx)
        assert "samedi 22 mars à 19:00" in result.text
        assert "Tabac de la Gare" in result.text


def test_a_merged_burst_lists_its_steps(shop_a: Shop) -> None:
    burst = [
        {"type": "order.in_preparation", "key": "in_preparation", "at": "2025-03-12T09:00:00Z"},
        {"type": "order.shipped", "key": "shipped", "at": "2025-03-12T09:05:00Z"},
    ]
    ctx = _ctx(make_order(shop_a), "fr", events=burst, event_key="shipped")
    email = render(event_key="shipped", channel=EMAIL, locale="fr", context=ctx)
    assert "Les dernières étapes" in email.text and "Les dernières étapes" in email.html
    assert "- En préparation (12 mars 2025 à 10:00)" in email.text
    assert "Expédiée" in email.html


def test_the_layout_is_branded_and_accessible(shop_a: Shop) -> None:
    settings = NotificationSettings.objects.create(
        shop=shop_a, logo_url="https://cdn.example.fr/logo.png"
    )
    shop_a.sender_name = "Lumière"
    shop_a.primary_color = "#FFEE00"
    ctx = sample_context(shop_a, event_key="shipped", locale="fr", links=LINKS, settings=settings)
    html = render(event_key="shipped", channel=EMAIL, locale="fr", context=ctx).html
    assert '<img src="https://cdn.example.fr/logo.png" alt="Lumière"' in html
    assert "background-color:#FFEE00" in html and "color:#000000" in html  # readable on yellow
    assert "Suivre ma commande" in html  # the button is text, not an image
    assert "<title>Votre commande CMD-004217 est en route</title>" in html
    settings.delete()
    without_logo = render(
        event_key="shipped", channel=EMAIL, locale="fr", context=_sample(shop_a, "shipped", "fr")
    )
    assert "<img" not in without_logo.html and ">Lumière</p>" in without_logo.html


def test_unknown_locales_fall_back_to_french_and_regional_ones_to_their_language(
    shop_a: Shop,
) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    assert render(event_key="shipped", channel=PUSH, locale="de", context=ctx).subject.startswith(
        "Commande"
    )
    en = _sample(shop_a, "shipped", "en-GB")
    assert render(event_key="shipped", channel=PUSH, locale="en-GB", context=en).subject.startswith(
        "Order"
    )


def test_webhooks_and_unknown_events_are_not_templated(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    with pytest.raises(ValueError, match="webhook"):
        render(event_key="shipped", channel="webhook", locale="fr", context=ctx)
    with pytest.raises(ValueError, match="nope"):
        render(event_key="nope", channel=EMAIL, locale="fr", context=ctx)


# --- escaping and trusted markup ---------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def _order_named(shop: Shop, first_name: str, line_name: str = "Pull marin") -> Order:
    data = order_input(paid=True, lines=[("PULL", line_name, "49.90", 1)])
    data = dataclasses.replace(
        data,
        customer=CustomerInput(email="x@example.fr", first_name=first_name, last_name="Martin"),
    )
    return order_create(shop=shop, data=data)


def test_customer_data_is_escaped_in_html_and_raw_in_text(shop_a: Shop) -> None:
    order = _order_named(shop_a, SCRIPT, line_name="Pull <b>marin</b>")
    ctx = _ctx(order, "fr", "confirmed")
    email = render(event_key="confirmed", channel=EMAIL, locale="fr", context=ctx)
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "Pull &lt;b&gt;marin&lt;/b&gt;" in email.html and "<b>marin" not in email.html
    assert f"Bonjour {SCRIPT}," in email.text
    assert "Pull <b>marin</b>" in email.text
    # A merchant's HTML override escapes customer data the same way.
    override = _override(
        shop_a, "confirmed", EMAIL, body_html="<p>Bonjour {{ customer.first_name }}</p>"
    )
    overridden = render(
        event_key="confirmed", channel=EMAIL, locale="fr", context=ctx, override=override
    )
    assert overridden.used_override and overridden.problems == []
    assert "&lt;script&gt;" in overridden.html and "<script>" not in overridden.html


def test_the_marketing_block_is_trusted_markup_and_customer_data_never_is(shop_a: Shop) -> None:
    settings = NotificationSettings.objects.create(
        shop=shop_a,
        marketing_html='<p><a href="https://maison-lumiere.fr/soldes">Soldes -20 %</a></p>',
        marketing_text="Soldes -20 % : https://maison-lumiere.fr/soldes",
    )
    order = _order_named(shop_a, '<a href="https://evil.example">x</a>')
    ctx = _ctx(
        order,
        "fr",
        "shipped",
        marketing=marketing_block(settings, opted_out=False),
        settings=settings,
    )
    email = render(event_key="shipped", channel=EMAIL, locale="fr", context=ctx)
    assert '<p><a href="https://maison-lumiere.fr/soldes">Soldes -20 %</a></p>' in email.html
    assert "Soldes -20 % : https://maison-lumiere.fr/soldes" in email.text
    assert 'href="https://evil.example"' not in email.html
    assert "&lt;a href=&#34;https://evil.example&#34;&gt;" in email.html
    # A merchant template printing marketing.html gets it escaped: only the layout trusts it.
    override = _override(shop_a, "shipped", EMAIL, body_html="<p>{{ marketing.html }}</p>")
    overridden = render(
        event_key="shipped", channel=EMAIL, locale="fr", context=ctx, override=override
    )
    assert "&lt;p&gt;&lt;a href=" in overridden.html
    # Opted out: no block at all.
    ctx_out = _ctx(
        order,
        "fr",
        "shipped",
        marketing=marketing_block(settings, opted_out=True),
        settings=settings,
    )
    plain = render(event_key="shipped", channel=EMAIL, locale="fr", context=ctx_out)
    assert "soldes" not in plain.html and "soldes" not in plain.text


# --- merchant overrides -----------------------------------------------------------------

ATTACKS = [
    "{{ order.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}",
    "{{ order.lines.__class__.__mro__[1].__subclasses__() }}",
    "{{ order|attr('__class__') }}",
    "{{ '{0.__class__}'.format(order) }}",
    "{{ self.__init__.__globals__ }}",
    "{{ order.items.__self__ }}",
    "{{ range.__globals__ }}",
    "{% set _ = order.lines.append(1) %}{{ order.reference }}",
    "{% set _ = order.update({'reference': 'X'}) %}{{ order.reference }}",
    "{{ 'x' * 100000000 }}",
    "{{ 2 ** 100000 }}",
    "{% set ns = namespace(x=3) %}{% for i in range(100) %}{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}",
    "{{ range(100000000)|list|length }}",
    "{{ '%099999999d'|format(1) }}",
    "{{ '{:>99999999}'.format(1) }}",
    "{{ 'x'|center(999999999) }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
    "{{ '{0:{1}}'.format(1, 999999999) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ '%*d'|format(999999999, 1) }}",
    "{{ 'x'|indent(999999999, true) }}",
    "{{ [1]|batch(999999999, 0)|list }}",
    "{{ ('x' * 10000)|replace('', 'y' * 10000) }}",
    "{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}ok",
    "{% macro f(n) %}{{ f(n - 1) ~ f(n - 1) if n else '' }}{% endmacro %}{{ f(40) }}",
    "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s|length }}{% endmacro %}{{ d('x', 40) }}",
    "{% macro d(s, n) %}{{ d(s + s, n - 1) if n else s|length }}{% endmacro %}{{ d('x', 40) }}",
    "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}",
    "{% include '../models.py' %}",
    "{% extends '../../settings.py' %}",
    "{% import 'fr/../../models.py' as m %}",
]
LEAKS = ("<class", "__", "mro", "subclasses", "function", "module", "builtins", "SECRET", "import")


@pytest.mark.parametrize("source", ATTACKS)
@pytest.mark.parametrize("channel", [EMAIL, SMS])
def test_dangerous_overrides_are_refused_and_leak_nothing(
    shop_a: Shop, source: str, channel: str
) -> None:
    ctx = _ctx(make_order(shop_a, paid=True), "fr", "shipped")
    default = render(event_key="shipped", channel=channel, locale="fr", context=ctx)
    fields = {"body_html": source, "subject": source} if channel == EMAIL else {"body_text": source}
    result = render(
        event_key="shipped",
        channel=channel,
        locale="fr",
        context=ctx,
        override=_override(shop_a, "shipped", channel, **fields),
    )
    assert result.problems, source
    assert result.used_override is False
    # Exactly the default message: nothing of the attempt got through.
    assert (result.subject, result.text, result.html) == (
        default.subject,
        default.text,
        default.html,
    )
    for part in (result.subject, result.text, result.html):
        for leak in LEAKS:
            assert leak not in part
    # The context the next message renders from is untouched.
    assert ctx["order"]["reference"] != "X" and len(ctx["order"]["lines"]) == 2
    # The editor reports the same source.
    body = {"body_html": source} if channel == EMAIL else {"body_text": source}
    assert check_override(
        event_key="shipped",
        channel=channel,
        locale="fr",
        subject="",
        body_text=body.get("body_text", ""),
        body_html=body.get("body_html", ""),
        context=ctx,
    )


def test_a_plain_override_is_used_on_every_channel(shop_a: Shop) -> None:
    order = make_order(shop_a, paid=True)
    ctx = _ctx(order, "fr", "shipped")
    email = render(
        event_key="shipped",
        channel=EMAIL,
        locale="fr",
        context=ctx,
        override=_override(
            shop_a,
            "shipped",
            EMAIL,
            subject="Colis {{ order.reference }} parti !",
            body_text="C’est parti, {{ customer.first_name }} : {{ order.reference }}.",
            body_html="<p>C’est parti : <em>{{ order.reference }}</em></p>",
        ),
    )
    assert email.used_override and email.problems == []
    assert email.subject == f"Colis {order.reference} parti !"
    assert email.text.startswith(f"C’est parti, Claire : {order.reference}.")
    assert TRACKING in email.text and PREFERENCES in email.text  # the footer follows
    assert f'<p style="margin:0 0 16px;">C’est parti : <em>{order.reference}</em></p>' in email.html
    assert f'href="{TRACKING}"' in email.html  # inside the branded layout

    sms = render(
        event_key="shipped",
        channel=SMS,
        locale="fr",
        context=ctx,
        override=_override(
            shop_a, "shipped", SMS, body_text="L’équipe « {{ shop.name }} » : c’est parti…"
        ),
    )
    assert sms.used_override
    assert sms.text == f"L'équipe \" Maison Lumière \" : c'est parti... {TRACKING}"  # link appended
    assert sms.segments is not None and sms.segments.encoding == "GSM-7"

    push = render(
        event_key="shipped",
        channel=PUSH,
        locale="fr",
        context=ctx,
        override=_override(
            shop_a, "shipped", PUSH, subject="{{ order.reference }}", body_text="x" * 1000
        ),
    )
    assert push.used_override and push.subject == order.reference
    assert len(push.text) <= PUSH_BODY_MAX and push.text.endswith("…")
    assert push.url == TRACKING


def test_a_partial_override_keeps_the_default_for_the_other_parts(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "delivered", "fr")
    default = render(event_key="delivered", channel=EMAIL, locale="fr", context=ctx)
    result = render(
        event_key="delivered",
        channel=EMAIL,
        locale="fr",
        context=ctx,
        override=_override(shop_a, "delivered", EMAIL, subject="Livré !"),
    )
    assert result.subject == "Livré !" and result.used_override
    assert (result.text, result.html.replace("Livré !", default.subject)) == (
        default.text,
        default.html,
    )


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ order.reference ", "syntax error on line 1"),
        ("{% if %}", "syntax error"),
        ("{{ order.refernce }}", "refernce"),
        ("{{ nothing_here }}", "nothing_here"),
        ("{{ order.reference|nofilter }}", "nofilter"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{% if false %}x{% endif %}", "renders nothing"),
    ],
)
def test_broken_overrides_fall_back_with_a_readable_problem(
    shop_a: Shop, source: str, problem: str
) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    result = render(
        event_key="shipped",
        channel=EMAIL,
        locale="fr",
        context=ctx,
        override=_override(shop_a, "shipped", EMAIL, subject=source),
    )
    assert result.subject == "Votre commande CMD-004217 est en route"
    assert len(result.problems) == 1
    assert result.problems[0].startswith("Subject: ") and problem in result.problems[0]
    assert (
        check_override(
            event_key="shipped",
            channel=EMAIL,
            locale="fr",
            subject=source,
            body_text="",
            body_html="",
            context=ctx,
        )
        == result.problems
    )


def test_an_override_for_another_event_or_channel_is_ignored(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    result = render(
        event_key="shipped",
        channel=EMAIL,
        locale="fr",
        context=ctx,
        override=_override(shop_a, "delivered", SMS, body_text="{{ order.reference }}"),
    )
    assert not result.used_override and "delivered/sms" in result.problems[0]


def test_check_override_accepts_good_sources_and_names_unused_parts(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    good = {
        "subject": "{{ order.reference }} — {{ tracking.number|default('') }}",
        "body_text": "{% for line in order.lines %}{{ line.name }}{% endfor %} {{ event.payload.absent|default('') }}",
        "body_html": "{% import 'fr/_macros.j2' as m %}{{ m.summary_html(order) }}",
    }
    assert (
        check_override(event_key="shipped", channel=EMAIL, locale="fr", context=ctx, **good) == []
    )
    sms = check_override(
        event_key="shipped",
        channel=SMS,
        locale="fr",
        subject="x",
        body_text="ok",
        body_html="<p>",
        context=ctx,
    )
    assert sms == ["An SMS has no subject; remove it.", "An SMS has no HTML body; remove it."]
    assert check_override(
        event_key="nope",
        channel=SMS,
        locale="fr",
        subject="",
        body_text="ok",
        body_html="",
        context=ctx,
    ) == ["Unknown notification event 'nope'."]
    assert check_override(
        event_key="shipped",
        channel="webhook",
        locale="fr",
        subject="",
        body_text="ok",
        body_html="",
        context=ctx,
    ) == ["Channel 'webhook' has no templates."]


def test_subjects_are_one_line(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    result = render(
        event_key="shipped",
        channel=EMAIL,
        locale="fr",
        context=ctx,
        override=_override(
            shop_a,
            "shipped",
            EMAIL,
            subject="Hello\r\nBcc: victim@example.com\n{{ order.reference }}",
        ),
    )
    assert result.subject == "Hello Bcc: victim@example.com CMD-004217"


def test_compiled_templates_are_reused(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    source = "Commande {{ order.reference }} — compiled once"
    override = _override(shop_a, "shipped", SMS, body_text=source)
    render(event_key="shipped", channel=SMS, locale="fr", context=ctx, override=override)
    before = rendering._compile.cache_info()
    default_before = len(rendering.TEXT_ENV.cache or {})
    for _ in range(5):
        render(event_key="shipped", channel=SMS, locale="fr", context=ctx, override=override)
        render(event_key="shipped", channel=EMAIL, locale="fr", context=ctx)
    after = rendering._compile.cache_info()
    assert after.misses == before.misses  # the override source was not compiled again
    assert after.hits >= before.hits + 5
    assert (
        len(rendering.TEXT_ENV.cache or {}) <= default_before + 3
    )  # email, macros, footer at most


def test_each_shop_signs_its_own_messages(shop_a: Shop, shop_b: Shop) -> None:
    a = render(
        event_key="shipped", channel=SMS, locale="fr", context=_sample(shop_a, "shipped", "fr")
    )
    b = render(
        event_key="shipped", channel=SMS, locale="fr", context=_sample(shop_b, "shipped", "fr")
    )
    assert a.text.startswith("Maison Lumière") and b.text.startswith("Épicerie Bleue")


def test_a_very_long_order_is_not_cut_by_the_merchant_caps(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "confirmed", "fr")
    ctx["order"] = {**ctx["order"], "lines": ctx["order"]["lines"] * 2000}
    email = render(event_key="confirmed", channel=EMAIL, locale="fr", context=ctx)
    assert email.problems == []
    assert len(email.html) > rendering.MAX_OUTPUT
    assert email.text.count("Pull marin en laine") == 2000


def test_merchant_loops_within_the_budget_and_long_sources_are_refused(shop_a: Shop) -> None:
    ctx = _sample(shop_a, "shipped", "fr")
    loops = "{% for i in range(300) %}{% for line in order.lines %}{{ line.sku }}{% endfor %}{% endfor %}"
    assert (
        check_override(
            event_key="shipped",
            channel=SMS,
            locale="fr",
            subject="",
            body_text=loops,
            body_html="",
            context=ctx,
        )
        == []
    )
    too_long = "x" * (rendering.MAX_SOURCE + 1)
    problems = check_override(
        event_key="shipped",
        channel=SMS,
        locale="fr",
        subject="",
        body_text=too_long,
        body_html="",
        context=ctx,
    )
    assert problems == [f"Text: the template is longer than {rendering.MAX_SOURCE} characters."]
