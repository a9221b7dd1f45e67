"""The notifications area: rules matrix, settings, branding, template editor with live
preview, and test sends — views over :mod:`suivi.notifications.services` and
:mod:`suivi.shops.branding`.

Reading needs ``notifications.view`` (owner, customer service); changing needs
``notifications.configure`` (owner); sending a test needs ``notifications.test``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.core.errors import DomainError, InvalidInput, NotFound
from suivi.notifications import services
from suivi.notifications.catalog import CHANNEL_LABELS, CUSTOMER_CHANNELS, EMAIL, EVENTS, SMS
from suivi.notifications.models import Template
from suivi.notifications.rules_defaults import rules_reset
from suivi.orders.models import Order
from suivi.shops import branding

from .access import Staff, staff_view
from .forms_notifications import (
    BrandingForm,
    SettingsForm,
    TemplateForm,
    TestSendForm,
    add_domain_error,
)

LOCALE_LABELS = {"fr": "FR", "en": "EN"}
RECENT_ORDERS = 20
JINJA_EXAMPLES = {
    "variable": "{{ order.reference }}",
    "condition": "{% if tracking.number %}…{% endif %}",
    "optional": '{{ event.payload.note|default("") }}',
}


# --- helpers ----------------------------------------------------------------------------


def _target(event_key: str, channel: str, locale: str) -> tuple[str, str, str]:
    """The template an URL names; anything the catalogue lacks is a 404."""
    if (
        event_key not in EVENTS
        or channel not in services.TEMPLATED_CHANNELS
        or locale not in services.LOCALES
    ):
        raise Http404
    return event_key, channel, locale


def _order_id(staff: Staff, reference: str) -> int | None:
    """The id of the shop's order *reference* (None for empty); NotFound for an unknown one
    — another shop's reference is unknown here, worded the same."""
    reference = reference.strip()
    if not reference:
        return None
    found = (
        Order.objects.filter(shop=staff.shop, reference=reference)
        .values_list("pk", flat=True)
        .first()
    )
    if found is None:
        raise NotFound(
            _("No order with the reference “%(ref)s” in this shop.") % {"ref": reference}
        )
    return found


def _tabs(staff: Staff, current: str) -> list[dict[str, Any]]:
    slug = staff.shop.slug
    return [
        {
            "label": label,
            "url": reverse(f"backoffice:{name}", args=[slug]),
            "current": name == current,
        }
        for name, label in (
            ("notifications-rules", _("Rules")),
            ("notifications-templates", _("Templates")),
            ("notifications-settings", _("Settings")),
            ("notifications-branding", _("Branding")),
        )
    ]


def _page(
    request: HttpRequest,
    staff: Staff,
    template: str,
    context: dict[str, Any],
    *,
    tab: str,
    status: int = 200,
) -> HttpResponse:
    base = {
        "nav": "notifications",
        "shop": staff.shop,
        "tabs": _tabs(staff, tab),
        "can_configure": staff.can("notifications.configure"),
        "can_test": staff.can("notifications.test"),
    }
    return render(
        request, f"backoffice/notifications/{template}", {**base, **context}, status=status
    )


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


# --- rules ------------------------------------------------------------------------------


def _matrix(rows: list[services.RuleRow]) -> list[dict[str, Any]]:
    """Rows of the rules table: one per event, its cells in channel order."""
    events: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = events.setdefault(
            row.event_key,
            {
                "key": row.event_key,
                "label": row.label,
                "essential": row.essential,
                "urgent": row.urgent,
                "cells": [],
            },
        )
        entry["cells"].append(
            {
                "row": row,
                "value": f"{row.event_key}:{row.channel}",
                "channel_label": CHANNEL_LABELS[row.channel],
                "changed": not row.is_default and row.enabled != row.default_enabled,
            }
        )
    return list(events.values())


@require_GET
@staff_view("notifications.view")
def rules(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The rules matrix: events × customer channels, defaults marked."""
    rows = services.rules_matrix(shop=staff.shop)
    return _page(
        request,
        staff,
        "rules.html",
        {
            "events": _matrix(rows),
            "channels": [(c, CHANNEL_LABELS[c]) for c in CUSTOMER_CHANNELS],
            "customised": any(not row.is_default for row in rows),
        },
        tab="notifications-rules",
    )


@require_POST
@staff_view("notifications.configure")
def rules_save(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Save the ticked cells: only the cells whose value changes are sent, so that untouched
    cells keep following the catalogue's defaults."""
    wanted = request.POST.getlist("rule")
    current = {(row.event_key, row.channel): row for row in services.rules_matrix(shop=staff.shop)}
    changes: list[dict[str, Any]] = []
    for value in dict.fromkeys(wanted):
        event_key, _sep, channel = value.partition(":")
        if (event_key, channel) not in current:
            # Let the service refuse it with its own words (unknown event or channel).
            changes.append({"event_key": event_key, "channel": channel, "enabled": True})
    for (event_key, channel), row in current.items():
        enabled = f"{event_key}:{channel}" in wanted
        if enabled != row.enabled:
            changes.append({"event_key": event_key, "channel": channel, "enabled": enabled})
    url = reverse("backoffice:notifications-rules", args=[staff.shop.slug])
    try:
        services.rules_update(shop=staff.shop, changes=changes, actor=staff.actor)
    except (DomainError, ValidationError) as exc:
        messages.error(request, _("The rules were not saved: %(error)s") % {"error": exc})
        return redirect(url)
    if changes:
        messages.success(request, _("Notification rules saved."))
    else:
        messages.info(request, _("Nothing changed."))
    return redirect(url)


@require_http_methods(["GET", "POST"])
@staff_view("notifications.configure")
def rules_reset_view(request: HttpRequest, staff: Staff) -> HttpResponse:
    """GET: the confirmation; POST with ``confirmed=1``: back to the catalogue's defaults."""
    url = reverse("backoffice:notifications-rules", args=[staff.shop.slug])
    if request.method == "POST" and request.POST.get("confirmed") == "1":
        rules_reset(shop=staff.shop, actor=staff.actor)
        messages.success(request, _("Every rule follows the defaults again."))
        return redirect(url)
    return render(
        request,
        "backoffice/confirm.html",
        {
            "nav": "notifications",
            "title": _("Reset the rules to the defaults"),
            "question": _("Go back to the default rules for every event and channel?"),
            "details": [_("Every change made to the rules matrix is lost.")],
            "action_url": request.path,
            "confirm_label": _("Reset to defaults"),
            "cancel_url": url,
            "fields": [],
            "danger": True,
        },
        status=200 if request.method == "GET" else 400,
    )


# --- settings ---------------------------------------------------------------------------


def _settings_initial(staff: Staff) -> dict[str, Any]:
    settings = services.settings_get(shop=staff.shop)
    return {
        "reply_to": settings.reply_to,
        "sms_sender": settings.sms_sender,
        "logo_url": settings.logo_url,
        "quiet_start": settings.quiet_start,
        "quiet_end": settings.quiet_end,
        "burst_window_minutes": settings.burst_window_seconds // 60,
        "marketing_html": settings.marketing_html,
        "marketing_text": settings.marketing_text,
    }


@require_GET
@staff_view("notifications.view")
def settings_page(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's notification settings (read-only without ``notifications.configure``)."""
    form = SettingsForm(initial=_settings_initial(staff))
    return _settings_response(request, staff, form)


def _settings_response(
    request: HttpRequest, staff: Staff, form: SettingsForm, status: int = 200
) -> HttpResponse:
    if not staff.can("notifications.configure"):
        for field in form.fields.values():
            field.disabled = True
    return _page(
        request, staff, "settings.html", {"form": form}, tab="notifications-settings", status=status
    )


@require_POST
@staff_view("notifications.configure")
def settings_save(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Save the settings; errors are shown on their field and nothing is saved."""
    form = SettingsForm(request.POST)
    if form.is_valid():
        try:
            services.settings_update(shop=staff.shop, actor=staff.actor, **form.service_values())
        except InvalidInput as exc:
            add_domain_error(form, exc, SettingsForm.SERVICE_FIELDS)
        except (DomainError, ValidationError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Notification settings saved."))
            return redirect("backoffice:notifications-settings", slug=staff.shop.slug)
    return _settings_response(request, staff, form, status=400)


# --- branding ---------------------------------------------------------------------------


def _branding_response(
    request: HttpRequest, staff: Staff, form: BrandingForm, status: int = 200
) -> HttpResponse:
    if not staff.can("notifications.configure"):
        for field in form.fields.values():
            field.disabled = True
    shop = staff.shop
    return _page(
        request,
        staff,
        "branding.html",
        {
            "form": form,
            "has_logo": bool(shop.logo.name),
            "logo_version": (shop.logo.name or "").rsplit("/", 1)[-1],
        },
        tab="notifications-branding",
        status=status,
    )


@require_GET
@staff_view("notifications.view")
def branding_page(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Sender name, colours and logo of the shop's messages."""
    shop = staff.shop
    form = BrandingForm(
        initial={
            "sender_name": shop.sender_name,
            "primary_color": shop.primary_color,
            "accent_color": shop.accent_color,
        }
    )
    return _branding_response(request, staff, form)


@require_POST
@staff_view("notifications.configure")
def branding_save(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Save the branding; a refused logo or colour changes nothing."""
    form = BrandingForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            branding.branding_update(
                shop=staff.shop,
                sender_name=data["sender_name"],
                primary_color=data["primary_color"],
                accent_color=data["accent_color"],
                logo_file=data["logo"] or None,
                remove_logo=data["remove_logo"],
                actor=staff.actor,
            )
        except InvalidInput as exc:
            add_domain_error(form, exc)
        except (DomainError, ValidationError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Branding saved."))
            return redirect("backoffice:notifications-branding", slug=staff.shop.slug)
    return _branding_response(request, staff, form, status=400)


@require_GET
@staff_view("notifications.view")
def branding_logo(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's stored logo (re-encoded PNG, JPEG or WebP), for the branding page."""
    found = branding.logo_of(staff.shop)
    if found is None:
        raise Http404
    data, content_type = found
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- templates --------------------------------------------------------------------------


@require_GET
@staff_view("notifications.view")
def templates_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Every event × channel × locale, customised ones marked."""
    customised = set(
        Template.objects.filter(shop=staff.shop).values_list("event_key", "channel", "locale")
    )
    slug = staff.shop.slug
    rows = []
    for key, event in EVENTS.items():
        cells = []
        for channel in services.TEMPLATED_CHANNELS:
            cells.append(
                [
                    {
                        "locale": locale,
                        "locale_label": LOCALE_LABELS[locale],
                        "url": reverse(
                            "backoffice:notifications-template", args=[slug, key, channel, locale]
                        ),
                        "customised": (key, channel, locale) in customised,
                        "aria": f"{event.label} — {CHANNEL_LABELS[channel]} — {LOCALE_LABELS[locale]}",
                    }
                    for locale in services.LOCALES
                ]
            )
        rows.append({"key": key, "label": event.label, "cells": cells})
    return _page(
        request,
        staff,
        "templates.html",
        {
            "rows": rows,
            "channels": [CHANNEL_LABELS[c] for c in services.TEMPLATED_CHANNELS],
            "count": len(customised),
        },
        tab="notifications-templates",
    )


def _variables(staff: Staff, event_key: str, locale: str) -> list[tuple[str, list[str]]]:
    """The variables a template of *event_key* can use, read from the sample context itself
    (so the list is never out of date): top-level names with their keys."""
    from suivi.notifications.context import sample_context

    context = sample_context(
        staff.shop, event_key=event_key, locale=locale, links=services.preview_links()
    )
    found: list[tuple[str, list[str]]] = []
    for name, value in context.items():
        if isinstance(value, dict):
            found.append((name, [f"{name}.{key}" for key in value]))
        elif isinstance(value, list):
            found.append((f"{name}[]", []))
        else:
            found.append((name, []))
    found.append(("marketing", ["marketing.html", "marketing.text"]))
    unique: dict[str, list[str]] = {}
    for name, keys in found:
        unique.setdefault(name, keys)
    return list(unique.items())


def _preview(
    staff: Staff,
    event_key: str,
    channel: str,
    locale: str,
    *,
    order_reference: str = "",
    sources: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Render through ``services.preview``; raises NotFound for an unknown order reference
    and InvalidInput for unusable sources."""
    order_id = _order_id(staff, order_reference)
    result = services.preview(
        shop=staff.shop,
        event_key=event_key,
        channel=channel,
        locale=locale,
        order_id=order_id,
        **(sources or {}),
    )
    result["order_reference"] = order_reference.strip() if order_id is not None else ""
    return result


def _editor(
    request: HttpRequest,
    staff: Staff,
    target: tuple[str, str, str],
    *,
    form: TemplateForm | None = None,
    preview: dict[str, Any] | None = None,
    errors: list[tuple[str | None, str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    event_key, channel, locale = target
    saved = services.template_get(
        shop=staff.shop, event_key=event_key, channel=channel, locale=locale
    )
    read_only = not staff.can("notifications.configure")
    if form is None:
        form = TemplateForm(
            initial={
                "subject": saved.subject if saved else "",
                "body_text": saved.body_text if saved else "",
                "body_html": saved.body_html if saved else "",
                "order": request.GET.get("order", "")[:100],
            },
            channel=channel,
            read_only=read_only,
        )
    field_errors: dict[str, list[str]] = {}
    general: list[str] = []
    for field, message in errors or []:
        if field in form.fields:
            field_errors.setdefault(field, []).append(message)
        else:
            general.append(message)
    slug = staff.shop.slug
    args = [slug, event_key, channel, locale]
    recent = list(
        Order.objects.filter(shop=staff.shop)
        .order_by("-id")
        .values_list("reference", flat=True)[:RECENT_ORDERS]
    )
    siblings = [
        {
            "label": f"{CHANNEL_LABELS[c]} {LOCALE_LABELS[loc]}",
            "url": reverse("backoffice:notifications-template", args=[slug, event_key, c, loc]),
            "current": (c, loc) == (channel, locale),
        }
        for c in services.TEMPLATED_CHANNELS
        for loc in services.LOCALES
    ]
    return _page(
        request,
        staff,
        "editor.html",
        {
            "event_key": event_key,
            "event": EVENTS[event_key],
            "channel": channel,
            "channel_label": CHANNEL_LABELS[channel],
            "locale": locale,
            "locale_label": LOCALE_LABELS[locale],
            "saved": saved,
            "form": form,
            "read_only": read_only,
            "field_errors": field_errors,
            "general_errors": general,
            "preview": preview,
            "variables": _variables(staff, event_key, locale),
            "recent_orders": recent,
            "siblings": siblings,
            "test_form": TestSendForm(),
            "test_channel": channel in services.TEST_CHANNELS,
            "is_sms": channel == SMS,
            "is_email": channel == EMAIL,
            "staff_email": getattr(staff.user, "email", ""),
            "urls": {
                "save": reverse("backoffice:notifications-template-save", args=args),
                "reset": reverse("backoffice:notifications-template-reset", args=args),
                "preview": reverse("backoffice:notifications-preview", args=args),
                "test": reverse("backoffice:notifications-test", args=args),
            },
            "examples": JINJA_EXAMPLES,
        },
        tab="notifications-templates",
        status=status,
    )


@require_GET
@staff_view("notifications.view")
def template_editor(
    request: HttpRequest, staff: Staff, event_key: str, channel: str, locale: str
) -> HttpResponse:
    """The editor of one template, with the preview of what is saved (``?order=REF`` for a
    real order)."""
    target = _target(event_key, channel, locale)
    reference = request.GET.get("order", "")[:100]
    errors: list[tuple[str | None, str]] = []
    preview = None
    status = 200
    try:
        preview = _preview(staff, *target, order_reference=reference)
    except NotFound as exc:
        errors.append((None, str(exc)))
        preview = _preview(staff, *target)
        status = 404
    return _editor(request, staff, target, preview=preview, errors=errors, status=status)


@require_POST
@staff_view("notifications.configure")
def template_save(
    request: HttpRequest, staff: Staff, event_key: str, channel: str, locale: str
) -> HttpResponse:
    """Save the sources; a template that does not render is refused with its problems."""
    target = _target(event_key, channel, locale)
    form = TemplateForm(request.POST, channel=channel)
    if not form.is_valid():
        return _editor(request, staff, target, form=form, status=400)
    try:
        services.template_save(
            shop=staff.shop,
            event_key=event_key,
            channel=channel,
            locale=locale,
            actor=staff.actor,
            **form.sources(),
        )
    except services.TemplateInvalid as exc:
        messages.error(request, _("The template was not saved: it does not render."))
        return _editor(request, staff, target, form=form, errors=exc.errors, status=400)
    except InvalidInput as exc:
        messages.error(request, str(exc))
        return _editor(
            request, staff, target, form=form, errors=[(exc.field, str(exc))], status=400
        )
    except (DomainError, ValidationError) as exc:
        messages.error(request, str(exc))
        return _editor(request, staff, target, form=form, status=400)
    messages.success(request, _("Template saved."))
    return redirect("backoffice:notifications-template", staff.shop.slug, *target)


@require_http_methods(["GET", "POST"])
@staff_view("notifications.configure")
def template_reset(
    request: HttpRequest, staff: Staff, event_key: str, channel: str, locale: str
) -> HttpResponse:
    """GET: the confirmation; POST with ``confirmed=1``: the default template applies again."""
    target = _target(event_key, channel, locale)
    editor_url = reverse("backoffice:notifications-template", args=[staff.shop.slug, *target])
    if request.method == "POST" and request.POST.get("confirmed") == "1":
        if services.template_reset(shop=staff.shop, actor=staff.actor, **_kwargs(target)):
            messages.success(request, _("The default template applies again."))
        else:
            messages.info(request, _("This template was not customised."))
        return redirect(editor_url)
    label = f"{EVENTS[event_key].label} — {CHANNEL_LABELS[channel]} — {LOCALE_LABELS[locale]}"
    return render(
        request,
        "backoffice/confirm.html",
        {
            "nav": "notifications",
            "title": _("Reset the template to the default"),
            "question": _("Go back to the default template for %(name)s?") % {"name": label},
            "details": [_("Your customised subject and bodies are deleted.")],
            "action_url": request.path,
            "confirm_label": _("Reset to default"),
            "cancel_url": editor_url,
            "fields": [],
            "danger": True,
        },
        status=200 if request.method == "GET" else 400,
    )


def _kwargs(target: tuple[str, str, str]) -> dict[str, str]:
    return {"event_key": target[0], "channel": target[1], "locale": target[2]}


def _preview_json(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "subject": result["subject"],
        "text": result["text"],
        "html": result["html"],
        "segments": result["segments"],
        "problems": result["problems"],
        "sample": result["sample"],
        "order_reference": result["order_reference"],
        "used_override": result["used_override"],
    }


@require_POST
@staff_view("notifications.view")
def preview(
    request: HttpRequest, staff: Staff, event_key: str, channel: str, locale: str
) -> HttpResponse:
    """Render the unsaved sources (nothing is saved or sent): JSON for the editor's script
    (``Accept: application/json``), else the editor page with the preview (no JavaScript).

    An order reference the shop does not have is a 404 (another shop's included)."""
    target = _target(event_key, channel, locale)
    read_only = not staff.can("notifications.configure")
    form = TemplateForm(request.POST, channel=channel, read_only=read_only)
    as_json = _wants_json(request)
    if not form.is_valid():
        if as_json:
            return JsonResponse({"error": _("The sources are too long to preview.")}, status=400)
        return _editor(request, staff, target, form=form, status=400)
    sources = None if read_only else form.sources()
    reference = form.cleaned_data["order"]
    try:
        result = _preview(staff, *target, order_reference=reference, sources=sources)
    except NotFound as exc:
        if as_json:
            return JsonResponse({"error": str(exc)}, status=404)
        return _editor(request, staff, target, form=form, errors=[(None, str(exc))], status=404)
    except (DomainError, ValidationError) as exc:
        if as_json:
            return JsonResponse({"error": str(exc)}, status=400)
        return _editor(request, staff, target, form=form, errors=[(None, str(exc))], status=400)
    if as_json:
        return JsonResponse(_preview_json(result))
    return _editor(request, staff, target, form=form, preview=result)


@require_POST
@staff_view("notifications.test")
def test_send(
    request: HttpRequest, staff: Staff, event_key: str, channel: str, locale: str
) -> HttpResponse:
    """Send the saved template to the signed-in member's email (or the phone given, SMS)."""
    target = _target(event_key, channel, locale)
    editor_url = reverse("backoffice:notifications-template", args=[staff.shop.slug, *target])
    form = TestSendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The test was not sent: check the phone number and order."))
        return redirect(editor_url)
    if channel == SMS:
        recipient = form.cleaned_data["to"]
        if not recipient.strip():
            messages.error(request, _("Give the phone number the test SMS goes to."))
            return redirect(editor_url)
    else:
        recipient = getattr(staff.user, "email", "") or ""
        if not recipient:
            messages.error(request, _("Your account has no email address to send the test to."))
            return redirect(editor_url)
    try:
        order_id = _order_id(staff, form.cleaned_data["order"])
        message = services.test_send(
            shop=staff.shop,
            order_id=order_id,
            to=recipient,
            actor=staff.actor,
            **_kwargs(target),
        )
    except (DomainError, ValidationError) as exc:
        messages.error(request, _("The test was not sent: %(error)s") % {"error": exc})
        return redirect(editor_url)
    messages.success(
        request, _("A test message is on its way to %(to)s.") % {"to": message.recipient}
    )
    return redirect(editor_url)
