"""Forms of the back office's claims pages. They check shapes only; the rules (statuses,
closed claims, photos, parcels, credit notes) are the claims services' and come back as
:class:`suivi.core.errors.DomainError`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from suivi.claims.forms import PHOTOS_HELP, PhotosField
from suivi.claims.models import Claim
from suivi.claims.services import MAX_TEXT, TRANSITIONS
from suivi.orders.models import OrderLine

Status = Claim.Status
Resolution = Claim.Resolution

MINE = "mine"
UNASSIGNED = "unassigned"

# What the staff reads for each status (the model's labels are the customer's wording).
STAFF_STATUS_LABELS: dict[str, Any] = {
    Status.OPEN: _("Open (not answered yet)"),
    Status.IN_PROGRESS: _("In progress"),
    Status.WAITING_CUSTOMER: _("Waiting for the customer"),
    Status.RESOLVED: _("Resolved"),
    Status.CLOSED: _("Closed"),
}
STAFF_STATUS_CHOICES = [(value, STAFF_STATUS_LABELS[value]) for value in Status.values]


class FilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *STAFF_STATUS_CHOICES]
    )
    assignee = forms.ChoiceField(
        label=_("Assigned to"),
        required=False,
        choices=[("", _("Anyone")), (MINE, _("Me")), (UNASSIGNED, _("Nobody"))],
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    internal = forms.BooleanField(
        label=_("Internal note (not shown to the customer)"), required=False
    )
    ask_customer = forms.BooleanField(label=_("Ask the customer for information"), required=False)
    photos = PhotosField(label=_("Attach photos (optional)"), help_text=PHOTOS_HELP)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "reply_%s")  # several forms share one page
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("body") or "").strip() and not data.get("photos"):
            raise forms.ValidationError(_("Write a message or add a photo."), code="empty")
        if data.get("internal") and data.get("ask_customer"):
            raise forms.ValidationError(
                _("An internal note cannot ask the customer anything."), code="internal-ask"
            )
        return data


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(
        label=_("Assignee"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("Nobody")), *members]


def status_targets(claim: Claim) -> list[tuple[str, Any]]:
    """The statuses *claim* may be moved to by hand (resolved goes through the resolution)."""
    allowed = TRANSITIONS[Status(claim.status)]
    return [(value, label) for value, label in STAFF_STATUS_CHOICES if value in allowed]


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"))
    note = forms.CharField(
        label=_("Message to the customer (optional)"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, claim: Claim, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "status_%s")
        super().__init__(*args, **kwargs)
        field = self.fields["status"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = status_targets(claim)


RESOLUTIONS = [(value, label) for value, label in Resolution.choices if value != Resolution.NONE]


class ResolveForm(forms.Form):
    """One form for every resolution; each uses its own fields (the others are ignored).

    The line quantities (``qty_<order line id>``) say what a reshipment sends again or what a
    refund credits.
    """

    resolution = forms.ChoiceField(label=_("Resolution"), choices=RESOLUTIONS)
    note = forms.CharField(
        label=_("Note to the customer (optional)"),
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    tracking_number = forms.CharField(
        label=_("Tracking number of the new parcel"), required=False, max_length=64
    )
    carrier = forms.CharField(
        label=_("Carrier (optional, detected from the number)"), required=False, max_length=32
    )
    amount = forms.CharField(label=_("Compensation amount"), required=False, max_length=20)

    def __init__(self, *args: Any, lines: list[OrderLine], **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "resolve_%s")
        super().__init__(*args, **kwargs)
        self.order_lines = lines
        for line in lines:
            self.fields[f"qty_{line.pk}"] = forms.IntegerField(
                label=_("Quantity of %(name)s") % {"name": line.name},
                required=False,
                min_value=0,
                max_value=line.quantity_ordered,
                initial=0,
            )

    def line_fields(self) -> list[tuple[OrderLine, forms.BoundField]]:
        return [(line, self[f"qty_{line.pk}"]) for line in self.order_lines]

    def chosen_lines(self) -> list[tuple[int, int]]:
        """(order line id, quantity) for every line with a quantity."""
        chosen = []
        for line in self.order_lines:
            quantity = self.cleaned_data.get(f"qty_{line.pk}") or 0
            if quantity:
                chosen.append((line.pk, quantity))
        return chosen

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        resolution = data.get("resolution")
        if resolution == Resolution.RESHIP:
            if not (data.get("tracking_number") or "").strip():
                self.add_error("tracking_number", _("Give the new parcel's tracking number."))
            if not self.chosen_lines():
                self.add_error(None, _("Say which items are shipped again, and how many."))
        elif resolution == Resolution.REFUND:
            if not self.chosen_lines():
                self.add_error(None, _("Say which items are refunded, and how many."))
        elif resolution == Resolution.COMPENSATION and not (data.get("amount") or "").strip():
            self.add_error("amount", _("Give the compensation amount."))
        return data
