"""The customer's return form: one quantity, reason and comment per returnable line."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .lifecycle import REASON_CHOICES
from .selectors import LineEligibility
from .services import MAX_COMMENT, MAX_NOTE, ReturnItem


class ReturnRequestForm(forms.Form):
    """Built from the order's returnable lines; ``items`` holds the chosen ones once valid."""

    note = forms.CharField(
        label=_("Anything the shop should know? (optional)"),
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, eligible: list[LineEligibility], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eligible = eligible
        self.items: list[ReturnItem] = []
        for item in eligible:
            pk = item.line.pk
            self.fields[f"qty_{pk}"] = forms.TypedChoiceField(
                label=_("Quantity to return"),
                choices=[(n, str(n)) for n in range(item.eligible + 1)],
                coerce=int,
                initial=0,
            )
            self.fields[f"reason_{pk}"] = forms.ChoiceField(
                label=_("Reason"),
                choices=[("", _("Choose a reason")), *REASON_CHOICES],
                required=False,
            )
            self.fields[f"comment_{pk}"] = forms.CharField(
                label=_("Comment (optional)"), required=False, max_length=MAX_COMMENT
            )

    def rows(self) -> list[dict[str, Any]]:
        """Each returnable line with its three bound fields, for the template."""
        return [
            {
                "item": item,
                "qty": self[f"qty_{item.line.pk}"],
                "reason": self[f"reason_{item.line.pk}"],
                "comment": self[f"comment_{item.line.pk}"],
            }
            for item in self.eligible
        ]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean() or {}
        items: list[ReturnItem] = []
        for item in self.eligible:
            pk = item.line.pk
            quantity = cleaned.get(f"qty_{pk}")
            if not quantity:
                continue
            reason = cleaned.get(f"reason_{pk}")
            if not reason:
                self.add_error(f"reason_{pk}", _("Choose a reason for this item."))
                continue
            items.append(ReturnItem(pk, quantity, reason, cleaned.get(f"comment_{pk}", "")))
        if not items and not self.errors:
            raise forms.ValidationError(_("Choose at least one item to return."))
        self.items = items
        return cleaned
