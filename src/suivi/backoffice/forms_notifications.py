"""Forms of the notifications area: they parse what the browser sends; the services decide.

Every rule lives in :mod:`suivi.notifications.services` and :mod:`suivi.shops.branding`;
a refusal there (:class:`~suivi.core.errors.InvalidInput` naming its field) is put on the
matching form field with :func:`add_domain_error`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from suivi.core.errors import InvalidInput
from suivi.notifications.services import MAX_BURST_WINDOW_SECONDS, MAX_TEMPLATE_CHARS


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%H:%M")


class SettingsForm(forms.Form):
    """The shop's notification settings (``settings_get`` / ``settings_update``)."""

    reply_to = forms.CharField(
        label=_("Reply-to address"),
        required=False,
        help_text=_("Where customers' answers to your emails go. Empty: the sender address."),
        widget=forms.EmailInput(),
    )
    sms_sender = forms.CharField(
        label=_("SMS sender"),
        required=False,
        help_text=_("1 to 11 letters or digits (at least one letter), or a phone number."),
    )
    logo_url = forms.CharField(
        label=_("Logo address in emails"),
        required=False,
        help_text=_("An http(s) address of your logo, shown at the top of every email."),
        widget=forms.URLInput(),
    )
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"),
        widget=TimeInput(),
        help_text=_("Non-urgent SMS and push messages wait until the end of the quiet hours."),
    )
    quiet_end = forms.TimeField(label=_("Quiet hours end"), widget=TimeInput())
    burst_window_minutes = forms.IntegerField(
        label=_("Merge window (minutes)"),
        min_value=0,
        max_value=MAX_BURST_WINDOW_SECONDS // 60,
        help_text=_("Steps of one order within this window are told in one message."),
    )
    marketing_html = forms.CharField(
        label=_("Marketing block (HTML)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Shown at the bottom of emails, unless the customer opted out."),
    )
    marketing_text = forms.CharField(
        label=_("Marketing block (plain text)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    # Service argument → form field, where they differ.
    SERVICE_FIELDS = {"burst_window_seconds": "burst_window_minutes"}

    def service_values(self) -> dict[str, Any]:
        """The cleaned values as ``settings_update`` takes them."""
        data = self.cleaned_data
        return {
            "reply_to": data["reply_to"],
            "sms_sender": data["sms_sender"],
            "logo_url": data["logo_url"],
            "quiet_start": data["quiet_start"],
            "quiet_end": data["quiet_end"],
            "burst_window_seconds": data["burst_window_minutes"] * 60,
            "marketing_html": data["marketing_html"],
            "marketing_text": data["marketing_text"],
        }


class ColorInput(forms.TextInput):
    """``<input type=color>``: browsers without a colour picker show a text field."""

    input_type = "color"


class BrandingForm(forms.Form):
    """Sender name, colours and logo (``shops.branding.branding_update``)."""

    sender_name = forms.CharField(
        label=_("Sender name"),
        required=False,
        help_text=_("The name customers see as the sender. Empty: the shop's name."),
    )
    primary_color = forms.CharField(
        label=_("Primary colour"),
        widget=ColorInput(),
        help_text=_("#RRGGBB, e.g. #1F4E79: header and buttons of your emails."),
    )
    accent_color = forms.CharField(
        label=_("Accent colour"),
        widget=ColorInput(),
        help_text=_("#RRGGBB, e.g. #F2A900: highlights."),
    )
    logo = forms.FileField(
        label=_("New logo"),
        required=False,
        help_text=_("PNG, JPEG or WebP, 1 MB at most. SVG is not accepted."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the current logo"), required=False)


def _source(label: Any, rows: int) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        max_length=MAX_TEMPLATE_CHARS,
        widget=forms.Textarea(attrs={"rows": rows, "spellcheck": "false"}),
    )


class TemplateForm(forms.Form):
    """A template's sources and the order a preview uses (empty: the sample order)."""

    subject = _source(_("Subject"), 2)
    body_text = _source(_("Text body"), 10)
    body_html = _source(_("HTML body"), 14)
    order = forms.CharField(
        label=_("Preview with order"),
        required=False,
        max_length=100,
        help_text=_("An order reference of this shop; empty for the sample order."),
    )

    # Labels per channel: push keeps its title in ``subject`` and its body in ``body_text``.
    LABELS = {
        "email": {
            "subject": _("Subject"),
            "body_text": _("Text body"),
            "body_html": _("HTML body"),
        },
        "sms": {"body_text": _("SMS text")},
        "push": {"subject": _("Title"), "body_text": _("Body")},
    }

    def __init__(self, *args: Any, channel: str, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = self.LABELS[channel]
        for name in ("subject", "body_text", "body_html"):
            if name not in labels:
                del self.fields[name]
                continue
            self.fields[name].label = labels[name]
            if read_only:
                self.fields[name].disabled = True

    def sources(self) -> dict[str, str]:
        """Every part ``template_save`` and ``preview`` take; parts the channel lacks are
        empty."""
        data = self.cleaned_data
        return {name: data.get(name) or "" for name in ("subject", "body_text", "body_html")}


class TestSendForm(forms.Form):
    """Where a test goes: the signed-in member's email, or a phone for SMS."""

    to = forms.CharField(
        label=_("Phone number for the test SMS"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
    )
    order = forms.CharField(
        label=_("About order (optional)"),
        required=False,
        max_length=100,
        help_text=_("An order reference of this shop; empty for sample data."),
    )


def add_domain_error(
    form: forms.Form, exc: InvalidInput, aliases: dict[str, str] | None = None
) -> None:
    """Put a service's refusal on the form field it names (else on the whole form)."""
    field = exc.field
    if field and aliases:
        field = aliases.get(field, field)
    target = field if field in form.fields else None
    form.add_error(target, str(exc))
