"""Forms of the customer's claim pages. They check shapes only; the rules (ownership, photo
types and sizes, statuses) are the services' and come back as :class:`InvalidInput`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import Claim
from .photos import MAX_PHOTOS

ACCEPT = "image/jpeg,image/png,image/webp"


def _photos_help() -> str:
    return gettext(
        "Up to %(max)d JPEG, PNG or WebP pictures of 8 MB at most each. "
        "The place and camera details they may contain are removed."
    ) % {"max": MAX_PHOTOS}


PHOTOS_HELP = lazy(_photos_help, str)()


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.Field):
    """Several files under one name; each is checked by the services (type, size, count)."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"accept": ACCEPT})

    def to_python(self, data: Any) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in files if f]

    def bound_data(self, data: Any, initial: Any) -> Any:
        return initial  # a file input is never re-filled


class ClaimForm(forms.Form):
    order = forms.TypedChoiceField(label=_("Order concerned"), coerce=int)
    kind = forms.ChoiceField(
        label=_("What happened?"), choices=Claim.Kind.choices, widget=forms.RadioSelect
    )
    description = forms.CharField(
        label=_("Describe the problem"),
        help_text=_("What you received or did not receive, the state of the parcel…"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    requested_resolution = forms.ChoiceField(
        label=_("What would you like? (optional)"),
        required=False,
        choices=[
            ("", _("No preference")),
            *[(v, label) for v, label in Claim.Resolution.choices if v != Claim.Resolution.NONE],
        ],
    )
    photos = PhotosField(label=_("Photos or screenshots (optional)"), help_text=PHOTOS_HELP)

    def __init__(self, *args: Any, orders: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["order"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = orders


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Your message"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photos = PhotosField(label=_("Add photos (optional)"), help_text=PHOTOS_HELP)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("body") or "").strip() and not data.get("photos"):
            raise forms.ValidationError(_("Write a message or add a photo."), code="empty")
        return data
