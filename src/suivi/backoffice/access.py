"""The back office's one access check: who is signed in, in which shop, with which role.

Every back-office view is wrapped by :func:`staff_view` with the right it needs
(:mod:`.permissions`). The view receives a :class:`Staff` — the shop it may act on, the
user, their role and the actor string recorded on everything they change — and never looks
a shop up by itself, so every query it makes starts from ``staff.shop``.

- not signed in → the sign-in page, then back;
- not a member of the shop (or no such shop) → 404, the same answer for both;
- a member whose role lacks the right → a readable 403 page;
- an owner without a second factor → the authenticator set-up page first (owners hold
  every right, including API keys and carrier credentials).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from suivi.shops.models import Membership, Shop

from .permissions import OWNER, RIGHTS, allowed


@dataclass(frozen=True)
class Staff:
    """A signed-in member acting on one shop."""

    membership: Membership
    rights: frozenset[str] = field(default_factory=frozenset)

    @property
    def shop(self) -> Shop:
        return self.membership.shop

    @property
    def user(self) -> Any:
        return self.membership.user

    @property
    def role(self) -> str:
        return self.membership.role

    @property
    def actor(self) -> str:
        """What the order timeline records as the author of a change."""
        return f"staff:{self.membership.user_id}"

    def can(self, right: str) -> bool:
        return right in self.rights


def staff_of(user: Any, slug: str) -> Staff | None:
    """The membership of *user* in the shop *slug*, or None (not a member, or no shop)."""
    if not getattr(user, "is_authenticated", False):
        return None
    membership = (
        Membership.objects.select_related("shop", "user")
        .filter(shop__slug=slug, user=user, user__is_active=True)
        .first()
    )
    if membership is None:
        return None
    rights = frozenset(r for r in RIGHTS if allowed(membership.role, r))
    return Staff(membership=membership, rights=rights)


def forbidden(request: HttpRequest, staff: Staff, right: str) -> HttpResponse:
    """The readable refusal of a member whose role lacks *right*."""
    return render(
        request,
        "backoffice/forbidden.html",
        {"staff": staff, "shop": staff.shop, "right": right},
        status=403,
    )


def staff_view(right: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Wrap a view ``view(request, staff, **kwargs)`` served under ``/shop/<slug>/``."""
    if right not in RIGHTS:
        raise ValueError(f"unknown right {right!r}")

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, slug: str, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            staff = staff_of(request.user, slug)
            if staff is None:
                raise Http404
            if staff.role == OWNER and not is_mfa_enabled(request.user):
                messages.warning(
                    request,
                    _("Owners must protect their account with an authenticator app first."),
                )
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('mfa_activate_totp')}?{query}")
            if not staff.can(right):
                return forbidden(request, staff, right)
            request.staff = staff  # type: ignore[attr-defined]  # for templates and logs
            return view(request, staff, **kwargs)

        wrapper.staff_right = right  # type: ignore[attr-defined]  # read by the tests
        return wrapper

    return decorate
