"""The customer's notification choices, reached from the link in every message and opened
with a signed token (see :mod:`.links`): holding the link is the proof, so nothing else is
asked. The tracking page of the same messages is :mod:`suivi.customerweb.views_track`."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from suivi.core.errors import InvalidInput
from suivi.customers.models import Customer

from . import links, services
from .catalog import CHANNEL_LABELS, CUSTOMER_CHANNELS
from .models import CustomerPreference


class PreferencesForm(forms.Form):
    channels = forms.MultipleChoiceField(
        label=_("How would you like to be kept informed?"),
        choices=[(c, CHANNEL_LABELS[c]) for c in CUSTOMER_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    service_opt_out = forms.BooleanField(
        label=_("Only tell me what is essential (payment, cancellation)"), required=False
    )
    marketing_opt_out = forms.BooleanField(
        label=_("No offers or news in the messages"), required=False
    )
    language = forms.ChoiceField(
        label=_("Language"), choices=[("fr", "Français"), ("en", "English")]
    )
    quiet_start = forms.TimeField(label=_("Quiet hours from"), required=False)
    quiet_end = forms.TimeField(label=_("Quiet hours until"), required=False)

    def save_for(self, customer: Customer, pref: CustomerPreference) -> CustomerPreference:
        """Save the valid form's choices through the service (its rules are the API's);
        raises :class:`InvalidInput` if the service refuses them."""
        data = self.cleaned_data
        return services.preferences_update(
            shop=customer.shop,
            customer_id=customer.pk,
            channels=list(data["channels"]),
            service_opt_out=data["service_opt_out"],
            marketing_opt_out=data["marketing_opt_out"],
            language=data["language"],
            timezone=pref.timezone,
            quiet_start=data["quiet_start"],
            quiet_end=data["quiet_end"],
            actor=f"customer:{customer.pk}",
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("channels"):
            self.add_error(None, _("Choose at least one channel (or only the essential messages)."))
        start, end = data.get("quiet_start"), data.get("quiet_end")
        if bool(start) != bool(end):
            self.add_error(None, _("Give both ends of your quiet hours, or neither."))
        elif start and start == end:
            self.add_error(None, _("Your quiet hours must not start when they end."))
        return data


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Let a customer choose channels, opt-outs, language and quiet hours."""
    customer_id = links.customer_from_preferences_token(token)
    customer = (
        Customer.objects.select_related("shop").filter(pk=customer_id).first()
        if customer_id
        else None
    )
    if customer is None:
        raise Http404
    pref = services.preferences_get(shop=customer.shop, customer_id=customer.pk)
    saved = False
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                pref = form.save_for(customer, pref)
                saved = True
            except InvalidInput as exc:  # the form checks first; this is the service's word
                form.add_error(None, exc.message)
    else:
        form = PreferencesForm(
            initial={
                "channels": pref.channels or list(CUSTOMER_CHANNELS),
                "service_opt_out": pref.service_opt_out,
                "marketing_opt_out": pref.marketing_opt_out,
                "language": pref.language or customer.language or "fr",
                "quiet_start": pref.quiet_start or dt.time(21, 0),
                "quiet_end": pref.quiet_end or dt.time(8, 0),
            }
        )
    translation.activate(pref.language or customer.language or "fr")
    return render(
        request,
        "notifications/preferences.html",
        {"shop": customer.shop, "form": form, "saved": saved},
        status=200 if saved or request.method == "GET" or form.is_valid() else 400,
    )
