"""Forms of the back office's returns pages: shapes only; the rules (statuses, label
types and sizes) are the returns services' and come back as
:class:`suivi.core.errors.DomainError`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from suivi.returns.lifecycle import STATUS_CHOICES
from suivi.returns.services import MAX_INSTRUCTIONS, MAX_NOTE
from suivi.returns.storage import MAX_LABEL_BYTES

LABEL_ACCEPT = "application/pdf,image/png,image/jpeg"


class FilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *STATUS_CHOICES]
    )


class ApproveForm(forms.Form):
    instructions = forms.CharField(
        label=_("Instructions to the customer"),
        help_text=_("How and where to send the items back."),
        required=False,
        max_length=MAX_INSTRUCTIONS,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    label = forms.FileField(
        label=_("Return label (optional)"),
        help_text=_("A PDF, PNG or JPEG document of 10 MB at most."),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": LABEL_ACCEPT}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "approve_%s")  # two forms share the detail page
        super().__init__(*args, **kwargs)

    def clean_label(self) -> Any:
        label = self.cleaned_data.get("label")
        if label is not None and label.size is not None and label.size > MAX_LABEL_BYTES:
            raise forms.ValidationError(_("The label is larger than 10 MB."), code="too-large")
        return label

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        empty = not (data.get("instructions") or "").strip() and not data.get("label")
        if empty and not self.errors:  # a bad label file has its own message
            raise forms.ValidationError(
                _("Tell the customer how to send the items back, or attach a label."),
                code="empty",
            )
        return data


class RefuseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the refusal (the customer reads it)"),
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "refuse_%s")
        super().__init__(*args, **kwargs)

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise forms.ValidationError(_("Say why the return is refused."), code="required")
        return reason
