"""Settings area: stores and warehouses, carrier accounts, API keys, webhook endpoints and
the shop's policies. Views over the domain services; every id is looked up in
``staff.shop`` (another shop's id: 404)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from suivi.carriers import registry
from suivi.core.errors import DomainError, InvalidInput, NotFound
from suivi.core.http import UnsafeURL, check_public_url
from suivi.notifications import services as notifications
from suivi.shipments import connection
from suivi.shipments import services as shipments
from suivi.shipments.models import CarrierAccount
from suivi.shops import locations, policies
from suivi.shops.models import ApiKey, Location
from suivi.shops.services import api_key_create, api_key_revoke

from .access import Staff, staff_view
from .forms_settings import (
    ApiKeyForm,
    CarrierAccountForm,
    CarrierChoiceForm,
    LocationForm,
    PoliciesForm,
    PromiseFormSet,
    WebhookEditForm,
    WebhookForm,
    add_domain_error,
)

NAV = "settings"
MASK = "••••"
DELIVERIES_PAGE = 50


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return render(
        request, f"backoffice/settings/{template}", {"nav": NAV, **context}, status=status
    )


def _secret_page(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A page showing a secret once: rendered in the POST's answer, never cached."""
    response = _page(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


def _confirm(
    request: HttpRequest,
    *,
    title: str,
    question: str,
    confirm_label: str,
    cancel_url: str,
    details: Iterable[str] = (),
    danger: bool = True,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "backoffice/confirm.html",
        {
            "nav": NAV,
            "title": title,
            "question": question,
            "details": list(details),
            "action_url": request.path,
            "confirm_label": confirm_label,
            "cancel_url": cancel_url,
            "fields": [],
            "danger": danger,
        },
        status=status,
    )


def _confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("confirmed") == "1"


def _url(name: str, staff: Staff, **kwargs: Any) -> str:
    return reverse(f"backoffice:{name}", kwargs={"slug": staff.shop.slug, **kwargs})


# --- index ----------------------------------------------------------------------------------


@require_GET
@staff_view("settings.view")
def index(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Links to each section the member may open."""
    sections = [
        ("settings.locations", "settings-locations", _("Stores and warehouses"),
         _("Addresses, phone numbers and opening hours.")),
        ("settings.carriers", "settings-carriers", _("Carrier accounts"),
         _("Credentials Suivi uses to follow your parcels; test the connection.")),
        ("settings.api_keys", "settings-api-keys", _("API keys"),
         _("Keys your systems use to call the Suivi API.")),
        ("settings.webhooks", "settings-webhooks", _("Webhook endpoints"),
         _("Where Suivi sends your events; the delivery log and replays.")),
        ("settings.policies", "settings-policies", _("Policies"),
         _("Returns, archive retention, customer service contacts, delivery promises.")),
    ]  # fmt: skip
    links = [
        {"url": _url(name, staff), "title": title, "text": text}
        for right, name, title, text in sections
        if staff.can(right)
    ]
    return _page(request, "index.html", {"sections": links})


# --- stores and warehouses ------------------------------------------------------------------


@require_GET
@staff_view("settings.locations")
def location_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    rows = locations.location_list(shop=staff.shop)
    return _page(request, "locations.html", {"locations": rows})


def _location_form_page(
    request: HttpRequest, form: LocationForm, location: Location | None, status: int = 200
) -> HttpResponse:
    return _page(request, "location_form.html", {"form": form, "location": location}, status=status)


@require_http_methods(["GET", "POST"])
@staff_view("settings.locations")
def location_new(request: HttpRequest, staff: Staff) -> HttpResponse:
    if request.method != "POST":
        return _location_form_page(
            request, LocationForm(initial={"country": staff.shop.country}), None
        )
    form = LocationForm(request.POST)
    if form.is_valid():
        try:
            location = locations.location_add(shop=staff.shop, data=form.to_input())
        except InvalidInput as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("%(name)s was added.") % {"name": location.name})
            return redirect(_url("settings-locations", staff))
    return _location_form_page(request, form, None, status=400)


@require_http_methods(["GET", "POST"])
@staff_view("settings.locations")
def location_edit(request: HttpRequest, staff: Staff, location_id: int) -> HttpResponse:
    try:
        location = locations.location_get(shop=staff.shop, location_id=location_id)
    except NotFound:
        raise Http404 from None
    if request.method != "POST":
        form = LocationForm(initial=LocationForm.initial_for(location))
        return _location_form_page(request, form, location)
    form = LocationForm(request.POST)
    if form.is_valid():
        try:
            location = locations.location_update(
                shop=staff.shop, location_id=location.pk, data=form.to_input()
            )
        except NotFound:
            raise Http404 from None
        except InvalidInput as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": location.name})
            return redirect(_url("settings-locations", staff))
    return _location_form_page(request, form, location, status=400)


@require_http_methods(["GET", "POST"])
@staff_view("settings.locations")
def location_delete(request: HttpRequest, staff: Staff, location_id: int) -> HttpResponse:
    try:
        location = locations.location_get(shop=staff.shop, location_id=location_id)
    except NotFound:
        raise Http404 from None
    if not _confirmed(request):
        in_use = locations.location_in_use(location)
        return _confirm(
            request,
            title=_("Delete %(name)s") % {"name": location.name},
            question=_("Delete this location?"),
            details=[
                _(
                    "Orders refer to it: it will be deactivated instead of deleted, and kept "
                    "for their history."
                )
                if in_use
                else _("No order refers to it: it will be deleted.")
            ],
            confirm_label=_("Delete location"),
            cancel_url=_url("settings-locations", staff),
            status=400 if request.method == "POST" else 200,
        )
    try:
        deleted = locations.location_remove(shop=staff.shop, location_id=location.pk)
    except NotFound:
        raise Http404 from None
    if deleted:
        messages.success(request, _("%(name)s was deleted.") % {"name": location.name})
    else:
        messages.success(
            request,
            _("Orders refer to %(name)s: it was deactivated instead of deleted.")
            % {"name": location.name},
        )
    return redirect(_url("settings-locations", staff))


# --- carrier accounts -----------------------------------------------------------------------


def _mask(value: str) -> str:
    """At most the last four characters of a long credential, never the rest."""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True)
class AccountRow:
    account: CarrierAccount
    carrier_name: str
    sandbox: bool
    status: str  # "active", "paused", "auth_error"
    error: str
    credentials: list[tuple[str, str]]  # name, masked value
    testable: bool


def _account_row(account: CarrierAccount) -> AccountRow:
    connector = registry.get(account.carrier)
    values: dict[str, str] = {}
    readable = True
    if account.credentials_encrypted:
        try:
            values = {
                str(k): str(v) for k, v in shipments.account_config(account).credentials.items()
            }
        except Exception:  # undecryptable (rotated keys): say so, show nothing
            readable = False
    if not account.is_active:
        status = "paused"
    elif account.last_error or not readable:
        status = "auth_error"
    else:
        status = "active"
    error = _scrub(account.last_error, values.values())
    if not readable and not error:
        error = _("The stored credentials cannot be read: enter them again.")
    return AccountRow(
        account=account,
        carrier_name=connector.name if connector else account.carrier,
        sandbox=bool(account.base_url),
        status=status,
        error=error,
        credentials=[(name, _mask(value)) for name, value in sorted(values.items())],
        testable=connector is not None,
    )


@require_GET
@staff_view("settings.carriers")
def carrier_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    accounts = CarrierAccount.objects.filter(shop=staff.shop).order_by("carrier", "label", "pk")
    return _page(request, "carriers.html", {"rows": [_account_row(a) for a in accounts]})


@require_http_methods(["GET", "POST"])
@staff_view("settings.carriers")
def carrier_new(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Step one (GET without a carrier): choose the carrier; step two: its credentials."""
    carrier = (request.POST.get("carrier") or request.GET.get("carrier") or "").strip()
    if registry.get(carrier) is None:
        choice = CarrierChoiceForm(request.GET if carrier else None)
        if carrier:
            choice.is_valid()
        status = 400 if carrier or request.method == "POST" else 200
        return _page(request, "carrier_choose.html", {"choice": choice}, status=status)
    connector = registry.get(carrier)
    if request.method != "POST":
        form = CarrierAccountForm(carrier=carrier)
        return _page(request, "carrier_form.html", {"form": form, "connector": connector})
    form = CarrierAccountForm(request.POST, carrier=carrier)
    if form.is_valid():
        base_url = form.cleaned_data["base_url"]
        try:
            if base_url:
                check_public_url(base_url)
            account, push_secret = shipments.account_create(
                shop=staff.shop,
                carrier=carrier,
                credentials=form.credentials(),
                label=form.cleaned_data["label"],
                base_url=base_url,
                requests_per_minute=form.cleaned_data["requests_per_minute"],
            )
        except UnsafeURL as exc:
            form.add_error("base_url", _("The URL is refused: %(why)s") % {"why": exc})
        except InvalidInput as exc:
            add_domain_error(form, exc, {"credentials": ""})
        else:
            return _secret_page(
                request,
                "carrier_created.html",
                {"row": _account_row(account), "push_secret": push_secret},
            )
    return _page(request, "carrier_form.html", {"form": form, "connector": connector}, status=400)


@require_http_methods(["GET", "POST"])
@staff_view("settings.carriers")
def carrier_delete(request: HttpRequest, staff: Staff, account_id: int) -> HttpResponse:
    account = get_object_or_404(CarrierAccount, shop=staff.shop, pk=account_id)
    row = _account_row(account)
    if not _confirmed(request):
        return _confirm(
            request,
            title=_("Delete the %(carrier)s account") % {"carrier": row.carrier_name},
            question=_("Delete this carrier account and its stored credentials?"),
            details=[
                _(
                    "Parcels it follows stop being polled until another account of this "
                    "carrier is added."
                )
            ],
            confirm_label=_("Delete account"),
            cancel_url=_url("settings-carriers", staff),
            status=400 if request.method == "POST" else 200,
        )
    try:
        shipments.account_delete(shop=staff.shop, account_id=account.pk)
    except NotFound:
        raise Http404 from None
    messages.success(
        request, _("The %(carrier)s account was deleted.") % {"carrier": row.carrier_name}
    )
    return redirect(_url("settings-carriers", staff))


@require_POST
@staff_view("settings.carriers")
def carrier_test(request: HttpRequest, staff: Staff, account_id: int) -> HttpResponse:
    """One harmless call with the stored credentials; the result as a message."""
    try:
        result = connection.account_test(staff.shop, account_id)
    except NotFound:
        raise Http404 from None
    if result.ok:
        messages.success(request, result.message)
    else:
        messages.error(request, result.message)
    return redirect(_url("settings-carriers", staff))


# --- API keys -------------------------------------------------------------------------------


def _api_keys_page(
    request: HttpRequest, staff: Staff, form: ApiKeyForm, status: int = 200
) -> HttpResponse:
    keys = ApiKey.objects.filter(shop=staff.shop).order_by("-created_at", "-pk")
    return _page(request, "api_keys.html", {"keys": keys, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@staff_view("settings.api_keys")
def api_keys(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's keys; a POST issues one and shows it in its answer, once."""
    if request.method != "POST":
        return _api_keys_page(request, staff, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _api_keys_page(request, staff, form, status=400)
    issued = api_key_create(shop=staff.shop, name=form.cleaned_data["name"].strip())
    return _secret_page(
        request, "api_key_created.html", {"api_key": issued.api_key, "secret": issued.secret}
    )


@require_http_methods(["GET", "POST"])
@staff_view("settings.api_keys")
def api_key_revoke_view(request: HttpRequest, staff: Staff, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey, shop=staff.shop, pk=key_id)
    back = _url("settings-api-keys", staff)
    if not api_key.is_active:
        messages.info(request, _("This key is already revoked."))
        return redirect(back)
    if not _confirmed(request):
        return _confirm(
            request,
            title=_("Revoke the key %(name)s") % {"name": api_key.name},
            question=_("Revoke this API key now?"),
            details=[_("Every call made with it is refused from now on. This cannot be undone.")],
            confirm_label=_("Revoke key"),
            cancel_url=back,
            status=400 if request.method == "POST" else 200,
        )
    api_key_revoke(api_key=api_key)
    messages.success(request, _("The key %(name)s was revoked.") % {"name": api_key.name})
    return redirect(back)


# --- webhook endpoints ----------------------------------------------------------------------

_WEBHOOK_FIELDS = {"url": "url", "description": "description", "enabled": "enabled"}


def _webhook_error(form: WebhookForm, exc: InvalidInput) -> None:
    field = exc.field or ""
    add_domain_error(
        form, exc, {field: "event_types"} if field.startswith("event_types") else _WEBHOOK_FIELDS
    )


def _endpoint_or_404(staff: Staff, endpoint_id: int) -> Any:
    try:
        return notifications.endpoint_get(shop=staff.shop, endpoint_id=endpoint_id)
    except NotFound:
        raise Http404 from None


@require_GET
@staff_view("settings.webhooks")
def webhook_list(request: HttpRequest, staff: Staff) -> HttpResponse:
    return _page(
        request, "webhooks.html", {"endpoints": notifications.endpoint_list(shop=staff.shop)}
    )


@require_http_methods(["GET", "POST"])
@staff_view("settings.webhooks")
def webhook_new(request: HttpRequest, staff: Staff) -> HttpResponse:
    if request.method != "POST":
        return _page(request, "webhook_form.html", {"form": WebhookForm(), "endpoint": None})
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            endpoint, secret = notifications.endpoint_create(
                shop=staff.shop,
                url=form.cleaned_data["url"],
                event_types=form.event_type_list(),
                description=form.cleaned_data["description"],
                actor=staff.actor,
            )
        except InvalidInput as exc:
            _webhook_error(form, exc)
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return _secret_page(
                request,
                "webhook_secret.html",
                {"endpoint": endpoint, "secret": secret, "new": True},
            )
    return _page(request, "webhook_form.html", {"form": form, "endpoint": None}, status=400)


@require_http_methods(["GET", "POST"])
@staff_view("settings.webhooks")
def webhook_edit(request: HttpRequest, staff: Staff, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(staff, endpoint_id)
    if request.method != "POST":
        form = WebhookEditForm(
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "event_types": "\n".join(endpoint.event_types),
                "enabled": endpoint.enabled,
            }
        )
        return _page(request, "webhook_form.html", {"form": form, "endpoint": endpoint})
    form = WebhookEditForm(request.POST)
    if form.is_valid():
        try:
            notifications.endpoint_update(
                shop=staff.shop,
                endpoint_id=endpoint.pk,
                url=form.cleaned_data["url"],
                event_types=form.event_type_list(),
                description=form.cleaned_data["description"],
                enabled=form.cleaned_data["enabled"],
                actor=staff.actor,
            )
        except NotFound:
            raise Http404 from None
        except InvalidInput as exc:
            _webhook_error(form, exc)
        else:
            messages.success(request, _("The endpoint was saved."))
            return redirect(_url("settings-webhooks", staff))
    return _page(request, "webhook_form.html", {"form": form, "endpoint": endpoint}, status=400)


@require_POST
@staff_view("settings.webhooks")
def webhook_enable(request: HttpRequest, staff: Staff, endpoint_id: int) -> HttpResponse:
    """Enable a disabled endpoint again (its failure streak starts from zero)."""
    try:
        notifications.endpoint_update(
            shop=staff.shop, endpoint_id=endpoint_id, enabled=True, actor=staff.actor
        )
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The endpoint is enabled again."))
    target = request.POST.get("next") == "deliveries"
    if target:
        return redirect(_url("settings-webhook-deliveries", staff, endpoint_id=endpoint_id))
    return redirect(_url("settings-webhooks", staff))


@require_http_methods(["GET", "POST"])
@staff_view("settings.webhooks")
def webhook_delete(request: HttpRequest, staff: Staff, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(staff, endpoint_id)
    if not _confirmed(request):
        return _confirm(
            request,
            title=_("Delete the endpoint %(url)s") % {"url": endpoint.url},
            question=_("Delete this webhook endpoint and its delivery log?"),
            details=[_("Events are no longer sent to it. This cannot be undone.")],
            confirm_label=_("Delete endpoint"),
            cancel_url=_url("settings-webhooks", staff),
            status=400 if request.method == "POST" else 200,
        )
    try:
        notifications.endpoint_delete(shop=staff.shop, endpoint_id=endpoint.pk, actor=staff.actor)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The endpoint was deleted."))
    return redirect(_url("settings-webhooks", staff))


@require_http_methods(["GET", "POST"])
@staff_view("settings.webhooks")
def webhook_rotate(request: HttpRequest, staff: Staff, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint_or_404(staff, endpoint_id)
    if not _confirmed(request):
        return _confirm(
            request,
            title=_("New signing secret for %(url)s") % {"url": endpoint.url},
            question=_("Replace the endpoint's signing secret now?"),
            details=[
                _(
                    "Every delivery from now on, retries included, is signed with the new secret "
                    "only: update your receiver right away."
                )
            ],
            confirm_label=_("Rotate secret"),
            cancel_url=_url("settings-webhooks", staff),
            status=400 if request.method == "POST" else 200,
        )
    try:
        endpoint, secret = notifications.endpoint_rotate_secret(
            shop=staff.shop, endpoint_id=endpoint.pk, actor=staff.actor
        )
    except NotFound:
        raise Http404 from None
    return _secret_page(
        request, "webhook_secret.html", {"endpoint": endpoint, "secret": secret, "new": False}
    )


@require_GET
@staff_view("settings.webhooks")
def webhook_deliveries(request: HttpRequest, staff: Staff, endpoint_id: int) -> HttpResponse:
    """The endpoint's delivery log, newest first, each message with its attempts."""
    endpoint = _endpoint_or_404(staff, endpoint_id)
    before = request.GET.get("before", "")
    before_id = int(before) if before.isdigit() else None
    page = notifications.endpoint_deliveries(
        shop=staff.shop, endpoint_id=endpoint.pk, before_id=before_id, limit=DELIVERIES_PAGE
    )
    return _page(
        request,
        "webhook_deliveries.html",
        {
            "endpoint": endpoint,
            "page": page,
            "replayable": {s.value for s in notifications.REPLAYABLE},
        },
    )


@require_POST
@staff_view("settings.webhooks")
def webhook_replay(
    request: HttpRequest, staff: Staff, endpoint_id: int, message_id: int
) -> HttpResponse:
    try:
        notifications.endpoint_replay(
            shop=staff.shop, endpoint_id=endpoint_id, message_id=message_id, actor=staff.actor
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("The delivery is queued to be sent again."))
    return redirect(_url("settings-webhook-deliveries", staff, endpoint_id=endpoint_id))


# --- policies -------------------------------------------------------------------------------


def _promise_formset(staff: Staff, data: Any = None) -> Any:
    initial = [
        {"promise_id": p.pk, "carrier": p.carrier, "service": p.service,
         "business_days": p.business_days}
        for p in policies.promise_list(shop=staff.shop)
    ]  # fmt: skip
    return PromiseFormSet(data, initial=initial, prefix="promises")


def _policies_page(
    request: HttpRequest, staff: Staff, form: PoliciesForm, formset: Any, status: int = 200
) -> HttpResponse:
    return _page(
        request,
        "policies.html",
        {
            "form": form,
            "formset": formset,
            "retention_warning": policies.retention_warning(staff.shop.archive_retention_days),
        },
        status=status,
    )


def _policies_initial(staff: Staff) -> dict[str, Any]:
    shop = staff.shop
    return {
        "return_window_days": shop.return_window_days,
        "archive_retention_days": shop.archive_retention_days,
        "support_email": shop.support_email,
        "support_phone": shop.support_phone,
    }


@require_http_methods(["GET", "POST"])
@staff_view("settings.policies")
def policies_view(request: HttpRequest, staff: Staff) -> HttpResponse:
    """The shop's policies (POST saves them) and the delivery promises table."""
    if request.method != "POST":
        return _policies_page(
            request, staff, PoliciesForm(initial=_policies_initial(staff)), _promise_formset(staff)
        )
    form = PoliciesForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                policies.policies_update(
                    shop=staff.shop,
                    return_window_days=data["return_window_days"],
                    archive_retention_days=data["archive_retention_days"],
                    support_email=data["support_email"],
                    support_phone=data["support_phone"],
                )
        except InvalidInput as exc:
            staff.shop.refresh_from_db()
            add_domain_error(form, exc, {})
        else:
            messages.success(request, _("The policies were saved."))
            if policies.retention_warning(data["archive_retention_days"]):
                messages.warning(
                    request,
                    _(
                        "Proofs of purchase are kept less than 10 years: French law asks 10 years "
                        "for invoices."
                    ),
                )
            return redirect(_url("settings-policies", staff))
    return _policies_page(request, staff, form, _promise_formset(staff), status=400)


@require_POST
@staff_view("settings.policies")
def promises_save(request: HttpRequest, staff: Staff) -> HttpResponse:
    """Save the delivery promises table: changed rows, new row, rows ticked for deletion."""
    formset = _promise_formset(staff, request.POST)
    form = PoliciesForm(initial=_policies_initial(staff))
    if formset.is_valid():
        changes = [c for f in formset.forms if (c := f.change()) is not None]
        try:
            policies.promises_apply(shop=staff.shop, changes=changes)
        except NotFound:
            formset._non_form_errors = formset.error_class(  # shown above the table
                [_("A row was removed meanwhile: reload the page.")]
            )
        except (InvalidInput, ValidationError) as exc:
            field = getattr(exc, "field", "") or ""
            parts = field.split(".")
            message = getattr(exc, "message", str(exc))
            if len(parts) == 3 and parts[0] == "rows" and parts[1].isdigit():
                row = [f for f in formset.forms if f.change() is not None][int(parts[1])]
                name = parts[2] if parts[2] in row.fields else None
                row.add_error(name, message)
            else:
                formset._non_form_errors = formset.error_class([message])
        else:
            messages.success(request, _("The delivery promises were saved."))
            return redirect(_url("settings-policies", staff))
    return _policies_page(request, staff, form, formset, status=400)
