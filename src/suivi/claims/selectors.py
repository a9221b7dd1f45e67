"""Reads of claims.

Customer side: everything is scoped by ``customer__user`` so that another customer's claim
or photo is simply not found (whether it exists or not), and internal notes — with the
photos attached to them — never come out. Shop side (the back office): scoped by shop.
"""

from __future__ import annotations

from typing import Any

from django.db.models import F, Prefetch, Q, QuerySet

from suivi.core.errors import NotFound
from suivi.shops.models import Shop

from .models import Claim, ClaimMessage, ClaimPhoto

# --- customer side ----------------------------------------------------------------------


def claims_of_user(user: Any) -> QuerySet[Claim]:
    """The claims of every order of *user*, newest first (none for an anonymous user)."""
    if not getattr(user, "is_authenticated", False):
        return Claim.objects.none()
    return (
        Claim.objects.filter(customer__user=user)
        .select_related("order", "shop", "customer")
        .order_by("-created_at", "-pk")
    )


def claim_of_user(user: Any, claim_id: int) -> Claim:
    """The claim *claim_id* if *user* owns it; :class:`NotFound` otherwise."""
    claim = claims_of_user(user).filter(pk=claim_id).first()
    if claim is None:
        raise NotFound("No such claim.")
    return claim


def claims_of_order(user: Any, order_id: int) -> QuerySet[Claim]:
    """*user*'s claims about one of their orders (for the order page)."""
    return claims_of_user(user).filter(order_id=order_id)


def _customer_photos() -> QuerySet[ClaimPhoto]:
    # The opening's photos (no message) and those of messages the customer can see.
    return ClaimPhoto.objects.filter(Q(message__isnull=True) | Q(message__internal=False))


def photo_of_user(user: Any, claim_id: int, photo_id: int) -> ClaimPhoto:
    """A photo of *user*'s claim that the customer may see; :class:`NotFound` otherwise."""
    if not getattr(user, "is_authenticated", False):
        raise NotFound("No such photo.")
    photo = (
        _customer_photos()
        .filter(pk=photo_id, claim_id=claim_id, claim__customer__user=user)
        .first()
    )
    if photo is None:
        raise NotFound("No such photo.")
    return photo


def customer_thread(claim: Claim) -> list[ClaimMessage]:
    """The messages the customer sees (no internal note), oldest first, with their photos."""
    return list(
        claim.messages.filter(internal=False)
        .select_related("author")
        .prefetch_related(Prefetch("photos", queryset=ClaimPhoto.objects.order_by("id")))
        .order_by("id")
    )


def opening_photos(claim: Claim) -> list[ClaimPhoto]:
    """The photos sent with the claim form itself."""
    return list(claim.photos.filter(message__isnull=True).order_by("id"))


# --- shop side (the back office) --------------------------------------------------------


def claims_of_shop(shop: Shop, *, status: str | None = None) -> QuerySet[Claim]:
    """A shop's claims, those due soonest first (then the newest)."""
    claims = Claim.objects.filter(shop=shop).select_related("order", "customer", "assignee")
    if status:
        claims = claims.filter(status=status)
    return claims.order_by(F("due_at").asc(nulls_last=True), "-pk")


def claim_of_shop(shop: Shop, claim_id: int) -> Claim:
    """A claim of *shop*; :class:`NotFound` for any other shop's."""
    claim = Claim.objects.filter(shop=shop, pk=claim_id).select_related("order", "customer").first()
    if claim is None:
        raise NotFound("No such claim.")
    return claim


def staff_thread(claim: Claim) -> list[ClaimMessage]:
    """Every message of the claim, internal notes included, oldest first."""
    return list(
        claim.messages.select_related("author")
        .prefetch_related(Prefetch("photos", queryset=ClaimPhoto.objects.order_by("id")))
        .order_by("id")
    )


def photo_of_shop(shop: Shop, claim_id: int, photo_id: int) -> ClaimPhoto:
    """Any photo of a claim of *shop* (internal ones too), for the back office."""
    photo = ClaimPhoto.objects.filter(shop=shop, claim_id=claim_id, pk=photo_id).first()
    if photo is None:
        raise NotFound("No such photo.")
    return photo
