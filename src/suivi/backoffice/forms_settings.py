"""Forms of the settings area. They read and shape the input; the rules are the domain's
(:mod:`suivi.shops.locations`, :mod:`suivi.shops.policies`, the shipments and
notifications services), whose :class:`~suivi.core.errors.InvalidInput` is shown on the
field it names (:func:`add_domain_error`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from suivi.carriers import registry
from suivi.core.errors import InvalidInput
from suivi.shops.locations import WEEKDAYS, LocationInput
from suivi.shops.models import Location
from suivi.shops.policies import (
    MAX_PROMISE_DAYS,
    MAX_RETENTION_DAYS,
    MAX_RETURN_WINDOW_DAYS,
    MIN_PROMISE_DAYS,
    MIN_RETENTION_DAYS,
    PromiseChange,
)

DAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}
SLOTS = (("open1", "close1"), ("open2", "close2"))


def add_domain_error(form: forms.BaseForm, exc: InvalidInput, fields: dict[str, str]) -> None:
    """Show *exc* on the form field its ``field`` maps to (through *fields*), else on top."""
    name = fields.get(exc.field or "", exc.field or "")
    form.add_error(name if name in form.fields else None, exc.message)


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


class LocationForm(forms.Form):
    """A store or a warehouse, with its opening hours (two ranges a day at most)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    code = forms.CharField(
        label=_("Code"),
        max_length=40,
        help_text=_("Used by your integrations (letters, digits, hyphens), e.g. paris-marais."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Location.Kind.choices)
    address_line1 = forms.CharField(label=_("Address"), max_length=200, required=False)
    address_line2 = forms.CharField(label=_("Address (line 2)"), max_length=200, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=16, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    country = forms.CharField(
        label=_("Country"), max_length=2, min_length=2, initial="FR", help_text=_("e.g. FR")
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text=_("National or international format; stored as +33…"),
    )
    is_active = forms.BooleanField(
        label=_("Active (offered for Click & Collect and routing)"), required=False, initial=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in WEEKDAYS:
            for index, (opens, closes) in enumerate(SLOTS, start=1):
                label = DAY_LABELS[day]
                self.fields[f"{day}_{opens}"] = forms.CharField(
                    label=_("%(day)s: opens (range %(n)s)") % {"day": label, "n": index},
                    required=False,
                    widget=_time_input(),
                )
                self.fields[f"{day}_{closes}"] = forms.CharField(
                    label=_("%(day)s: closes (range %(n)s)") % {"day": label, "n": index},
                    required=False,
                    widget=_time_input(),
                )

    @staticmethod
    def initial_for(location: Location) -> dict[str, Any]:
        data: dict[str, Any] = {
            name: getattr(location, name)
            for name in ("name", "code", "kind", "address_line1", "address_line2", "postcode",
                         "city", "country", "phone", "is_active")
        }  # fmt: skip
        hours = location.opening_hours or {}
        for day in WEEKDAYS:
            spans = hours.get(day) or []
            for (opens, closes), span in zip(SLOTS, spans, strict=False):
                if isinstance(span, list | tuple) and len(span) == 2:
                    data[f"{day}_{opens}"], data[f"{day}_{closes}"] = span[0], span[1]
        return data

    def day_rows(self) -> list[dict[str, Any]]:
        """The opening-hours table: one row per weekday with its four inputs."""
        return [
            {
                "day": day,
                "label": DAY_LABELS[day],
                "fields": [self[f"{day}_{name}"] for pair in SLOTS for name in pair],
            }
            for day in WEEKDAYS
        ]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        hours: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            spans: list[list[str]] = []
            for opens, closes in SLOTS:
                start = (data.get(f"{day}_{opens}") or "").strip()
                end = (data.get(f"{day}_{closes}") or "").strip()
                if bool(start) != bool(end):
                    self.add_error(
                        f"{day}_{opens}",
                        _("%(day)s: give both the opening and the closing time, or neither.")
                        % {"day": DAY_LABELS[day]},
                    )
                elif start:
                    spans.append([start, end])
            hours[day] = spans
        data["opening_hours"] = hours
        return data

    def to_input(self) -> LocationInput:
        data = self.cleaned_data
        return LocationInput(
            kind=data["kind"],
            code=data["code"],
            name=data["name"],
            address_line1=data["address_line1"],
            address_line2=data["address_line2"],
            postcode=data["postcode"],
            city=data["city"],
            country=data["country"],
            phone=data["phone"],
            opening_hours=data["opening_hours"],
            is_active=data["is_active"],
        )

    def add_domain_error(self, exc: InvalidInput) -> None:
        field = exc.field or ""
        if field.startswith("opening_hours."):
            day = field.split(".", 1)[1]
            if day in WEEKDAYS:
                self.add_error(f"{day}_open1", f"{DAY_LABELS[day]}: {exc.message}")
                return
        add_domain_error(self, exc, {})


def carrier_choices() -> list[tuple[str, str]]:
    """Carriers Suivi has a connector for (an account is per connector)."""
    return [(code, connector.name) for code, connector in sorted(registry.CONNECTORS.items())]


def parcel_carrier_choices() -> list[tuple[str, str]]:
    """Carrier codes parcels carry: every connector and the brands one answers for
    (Colissimo and Chronopost parcels are followed by La Poste's connector)."""
    brands = [(alias, alias.replace("_", " ").title()) for alias in registry.ALIASES]
    return sorted([*carrier_choices(), *brands], key=lambda choice: choice[1].casefold())


class CarrierChoiceForm(forms.Form):
    """First step of a new carrier account: which carrier (its credentials differ)."""

    carrier = forms.ChoiceField(label=_("Carrier"), choices=carrier_choices)


class CarrierAccountForm(forms.Form):
    """A carrier account: label, optional sandbox URL, the carrier's credentials."""

    carrier = forms.CharField(widget=forms.HiddenInput)
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        required=False,
        help_text=_("To tell several accounts of one carrier apart."),
    )
    base_url = forms.URLField(
        label=_("Sandbox URL"),
        max_length=300,
        required=False,
        assume_scheme="https",
        help_text=_("Leave empty for the carrier's production API."),
    )
    requests_per_minute = forms.IntegerField(
        label=_("Requests per minute"),
        min_value=1,
        max_value=100_000,
        required=False,
        help_text=_("Empty: the carrier's documented limit."),
    )

    def __init__(self, *args: Any, carrier: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carrier"].initial = carrier
        connector = registry.get(carrier)
        self.credential_names: tuple[str, ...] = connector.credential_names if connector else ()
        for name in self.credential_names:
            self.fields[f"credential_{name}"] = forms.CharField(
                label=name,
                max_length=500,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
            )

    def credentials(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"credential_{name}"] for name in self.credential_names}


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Key name"),
        max_length=100,
        help_text=_("Where the key is used, e.g. “Shopify connector”."),
    )


class WebhookForm(forms.Form):
    url = forms.CharField(label=_("Endpoint URL"), max_length=1000)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.CharField(
        label=_("Event types"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One per line or separated by commas, e.g. order.shipped or a prefix like order. "
            "Empty: every event."
        ),
    )

    def event_type_list(self) -> list[str]:
        raw = self.cleaned_data.get("event_types") or ""
        return [part for part in raw.replace(",", "\n").split() if part]


class WebhookEditForm(WebhookForm):
    enabled = forms.BooleanField(label=_("Enabled"), required=False)


class PoliciesForm(forms.Form):
    return_window_days = forms.IntegerField(
        label=_("Return window (days after delivery)"),
        min_value=0,
        max_value=MAX_RETURN_WINDOW_DAYS,
        help_text=_("0: customers cannot ask for a return online."),
    )
    archive_retention_days = forms.IntegerField(
        label=_("Keep proofs of purchase (days)"),
        min_value=MIN_RETENTION_DAYS,
        max_value=MAX_RETENTION_DAYS,
        help_text=_(
            "French law keeps invoices 10 years (3650 days). Less is allowed down to 365 days "
            "(for shops that invoice elsewhere), with a warning."
        ),
    )
    support_email = forms.EmailField(label=_("Customer service email"), required=False)
    support_phone = forms.CharField(
        label=_("Customer service phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel"}),
        help_text=_("Shown to customers; stored as +33…"),
    )


class PromiseForm(forms.Form):
    """One row of the delivery promises table."""

    promise_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    carrier = forms.ChoiceField(label=_("Carrier"), required=False)
    service = forms.CharField(
        label=_("Service"), max_length=64, required=False, help_text=_("Empty: any service.")
    )
    business_days = forms.IntegerField(
        label=_("Business days"),
        min_value=MIN_PROMISE_DAYS,
        max_value=MAX_PROMISE_DAYS,
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["carrier"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *parcel_carrier_choices()]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        deleting = data.get("DELETE")
        if not deleting and (data.get("carrier") or data.get("promise_id")):
            if not data.get("carrier"):
                self.add_error("carrier", _("Choose a carrier."))
            if data.get("business_days") is None and "business_days" not in self.errors:
                self.add_error("business_days", _("Give a number of business days."))
        return data

    def change(self) -> PromiseChange | None:
        """The row as a domain change; None for the blank row left empty."""
        data = self.cleaned_data
        if not data.get("carrier") and not data.get("promise_id"):
            return None
        return PromiseChange(
            carrier=data.get("carrier") or "",
            service=data.get("service") or "",
            business_days=data.get("business_days") or 0,
            promise_id=data.get("promise_id"),
            delete=bool(data.get("DELETE")),
        )


PromiseFormSet = forms.formset_factory(
    PromiseForm, extra=1, can_delete=True, max_num=200, validate_max=True
)
