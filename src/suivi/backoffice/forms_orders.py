"""Forms of the orders area: list filters, lifecycle actions, shipping, cancellations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from suivi.orders.lifecycle import STATUSES, Action, CancellationReason, Mode, Status
from suivi.orders.models import OrderLine
from suivi.shipments.services import ParcelInput, ParcelLineInput, known_carriers

from .orders_query import SORT_LABELS, TO_PREPARE_GROUP

# Buttons of the order page, in the lifecycle's order. Cancel and ship have their own forms.
ACTION_LABELS: Mapping[Action, Promise] = {
    Action.CONFIRM_PAYMENT: _("Confirm payment"),
    Action.HOLD_FOR_STOCK: _("Hold for stock"),
    Action.ROUTE: _("Route to a warehouse"),
    Action.RELEASE: _("Release"),
    Action.START_PREPARATION: _("Start preparation"),
    Action.MARK_READY: _("Mark ready to ship"),
    Action.MARK_IN_TRANSIT: _("Mark in transit"),
    Action.MARK_OUT_FOR_DELIVERY: _("Mark out for delivery"),
    Action.MARK_AVAILABLE_FOR_PICKUP: _("Mark available for pickup"),
    Action.MARK_DELIVERED: _("Mark delivered"),
    Action.MARK_COLLECTED: _("Mark collected"),
}
READY_FOR_PICKUP_LABEL = _("Mark ready for pickup")
# The bulk action select: the same wording, "ready" without a mode.
BULK_ACTIONS: Mapping[Action, Promise] = {
    Action.CONFIRM_PAYMENT: _("Confirm payment"),
    Action.HOLD_FOR_STOCK: _("Hold for stock"),
    Action.ROUTE: _("Route to a warehouse"),
    Action.RELEASE: _("Release"),
    Action.START_PREPARATION: _("Start preparation"),
    Action.MARK_READY: _("Mark ready (to ship, or for pickup)"),
    Action.MARK_IN_TRANSIT: _("Mark in transit"),
    Action.MARK_OUT_FOR_DELIVERY: _("Mark out for delivery"),
    Action.MARK_AVAILABLE_FOR_PICKUP: _("Mark available for pickup"),
    Action.MARK_DELIVERED: _("Mark delivered"),
    Action.MARK_COLLECTED: _("Mark collected"),
}
# What the merchant picks; the customer reads lifecycle.CANCELLATION_LABELS instead.
REASON_LABELS: Mapping[CancellationReason, Promise] = {
    CancellationReason.OUT_OF_STOCK: _("Out of stock"),
    CancellationReason.SOLD_IN_STORE: _("Already sold in store"),
    CancellationReason.CUSTOMER_REQUEST: _("At the customer's request"),
    CancellationReason.PAYMENT_FAILED: _("Payment failed"),
    CancellationReason.FRAUD_SUSPECTED: _("Fraud suspected"),
    CancellationReason.NOT_COLLECTED: _("Not collected in time"),
    CancellationReason.OTHER: _("Other reason"),
}
MODE_LABELS: Mapping[Mode, Promise] = {
    Mode.DELIVERY: _("Delivery"),
    Mode.CLICK_AND_COLLECT: _("Click & Collect"),
}
PARCEL_ROWS = 3
MAX_NOTE = 1000


def action_label(action: Action, mode: str) -> Promise:
    """The button text of *action* on an order of *mode*."""
    if action is Action.MARK_READY and mode == Mode.CLICK_AND_COLLECT:
        return READY_FOR_PICKUP_LABEL
    return ACTION_LABELS[action]


def _status_choices() -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = []
    for status, info in STATUSES.items():
        if status is Status.TO_PREPARE:
            choices.append((TO_PREPARE_GROUP, _("To prepare (with routed and in preparation)")))
        else:
            choices.append((status.value, info.label))
    return choices


def _carrier_choices(empty: Promise) -> list[tuple[str, Any]]:
    return [("", empty), *((code, code) for code in sorted(known_carriers()))]


class OrderFilterForm(forms.Form):
    """The list's search box, filters and sort (GET)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.MultipleChoiceField(label=_("Status"), required=False)
    mode = forms.ChoiceField(label=_("Fulfilment mode"), required=False)
    carrier = forms.ChoiceField(label=_("Carrier"), required=False)
    date_from = forms.DateField(
        label=_("Placed from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Placed until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    exception = forms.BooleanField(label=_("With a problem"), required=False)
    stalled = forms.BooleanField(label=_("Stalled parcel"), required=False)
    partial = forms.BooleanField(label=_("Partially cancelled"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields["status"]
        assert isinstance(status, forms.MultipleChoiceField)
        status.choices = _status_choices()
        status.widget.attrs["size"] = 5
        mode = self.fields["mode"]
        assert isinstance(mode, forms.ChoiceField)
        mode.choices = [("", _("Any")), *((m.value, label) for m, label in MODE_LABELS.items())]
        carrier = self.fields["carrier"]
        assert isinstance(carrier, forms.ChoiceField)
        carrier.choices = _carrier_choices(_("Any"))
        sort = self.fields["sort"]
        assert isinstance(sort, forms.ChoiceField)
        sort.choices = list(SORT_LABELS.items())
        self.fields["q"].widget = forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Order number, customer, email or tracking number"),
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


class ActionForm(forms.Form):
    """One lifecycle button of the order page."""

    action = forms.ChoiceField(choices=[(a.value, label) for a, label in ACTION_LABELS.items()])
    expected_version = forms.IntegerField(min_value=1)
    warehouse = forms.CharField(required=False, max_length=40)


class BulkActionForm(forms.Form):
    """The action applied to the orders ticked in the list."""

    action = forms.ChoiceField(
        label=_("Action"), choices=[(a.value, label) for a, label in BULK_ACTIONS.items()]
    )


class CancelForm(forms.Form):
    """Why the whole order is cancelled (the customer gets the apology)."""

    reason = forms.ChoiceField(
        label=_("Reason"), choices=[(r.value, label) for r, label in REASON_LABELS.items()]
    )
    note = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=MAX_NOTE, widget=forms.Textarea
    )


class CancelLineForm(CancelForm):
    """How much of one line is cancelled, and why."""

    quantity = forms.IntegerField(label=_("Quantity to cancel"), min_value=1)

    field_order = ["quantity", "reason", "note"]


@dataclass(frozen=True)
class ParcelRow:
    """The fields of one parcel row of the ship form, for the template."""

    number: int
    tracking: forms.BoundField
    carrier: forms.BoundField
    service: forms.BoundField
    quantities: list[tuple[OrderLine, forms.BoundField]]


class ShipForm(forms.Form):
    """Up to :data:`PARCEL_ROWS` parcels; rows without a tracking number are ignored."""

    expected_version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, lines: Sequence[OrderLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = list(lines)
        for i in range(PARCEL_ROWS):
            n = i + 1
            self.fields[f"tracking_{i}"] = forms.CharField(
                label=_("Tracking number of parcel %(n)s") % {"n": n},
                required=False,
                max_length=80,
            )
            self.fields[f"carrier_{i}"] = forms.ChoiceField(
                label=_("Carrier of parcel %(n)s") % {"n": n},
                required=False,
                choices=_carrier_choices(_("Detect from the number")),
            )
            self.fields[f"service_{i}"] = forms.CharField(
                label=_("Service of parcel %(n)s (optional)") % {"n": n},
                required=False,
                max_length=64,
            )
            for line in self.lines:
                self.fields[f"qty_{i}_{line.position}"] = forms.IntegerField(
                    label=_("Parcel %(n)s: quantity of %(sku)s") % {"n": n, "sku": line.sku},
                    required=False,
                    min_value=0,
                    max_value=line.quantity_ordered,
                    widget=forms.NumberInput(attrs={"class": "qty"}),
                )

    def rows(self) -> list[ParcelRow]:
        return [
            ParcelRow(
                number=i + 1,
                tracking=self[f"tracking_{i}"],
                carrier=self[f"carrier_{i}"],
                service=self[f"service_{i}"],
                quantities=[(line, self[f"qty_{i}_{line.position}"]) for line in self.lines],
            )
            for i in range(PARCEL_ROWS)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parcels: list[ParcelInput] = []
        split: list[list[ParcelLineInput]] = []
        for i in range(PARCEL_ROWS):
            number = (data.get(f"tracking_{i}") or "").strip()
            lines = [
                ParcelLineInput(line=line.position, quantity=qty)
                for line in self.lines
                if (qty := data.get(f"qty_{i}_{line.position}"))
            ]
            if not number:
                if lines:
                    self.add_error(f"tracking_{i}", _("Give the tracking number of this parcel."))
                continue
            parcels.append(
                ParcelInput(
                    tracking_number=number,
                    carrier=data.get(f"carrier_{i}") or "",
                    service=(data.get(f"service_{i}") or "").strip(),
                )
            )
            split.append(lines)
        if not parcels:
            raise forms.ValidationError(_("Give the tracking number of at least one parcel."))
        if len(parcels) > 1 and not all(split):
            raise forms.ValidationError(
                _("With several parcels, say which items go in each parcel.")
            )
        data["parcels"] = [
            ParcelInput(
                tracking_number=p.tracking_number,
                carrier=p.carrier,
                service=p.service,
                lines=lines or None,
            )
            for p, lines in zip(parcels, split, strict=True)
        ]
        return data
