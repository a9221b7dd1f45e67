"""allauth hooks: a verified email gathers the customer's past orders into the account."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest
from django.urls import reverse

from suivi.customers.services import customers_link_user
from suivi.shops.selectors import memberships_of


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth ships no types
    """Suivi's account rules on top of allauth's defaults."""

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        """Staff land in the back office, customers in their space."""
        if memberships_of(request.user).exists():
            return str(reverse("backoffice:index"))
        return str(super().get_login_redirect_url(request))

    def confirm_email(self, request: HttpRequest, email_address: Any) -> bool:
        confirmed = super().confirm_email(request, email_address)
        if confirmed:
            customers_link_user(user=email_address.user, email=email_address.email)
        return bool(confirmed)
