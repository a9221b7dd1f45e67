"""The figures of a shop's back-office home: what needs someone today."""

from __future__ import annotations

from django.db.models import Count, Q

from suivi.claims.models import Claim
from suivi.notifications.models import OutboxMessage, WebhookEndpoint
from suivi.orders.lifecycle import Status
from suivi.orders.models import Order
from suivi.returns.lifecycle import ReturnStatus
from suivi.returns.models import ReturnRequest
from suivi.shipments.models import Parcel
from suivi.shops.models import Shop

TO_PREPARE = (Status.TO_PREPARE, Status.ROUTED, Status.IN_PREPARATION)


def counts(shop: Shop) -> dict[str, int]:
    """Counters per queue, one aggregate query per table."""
    orders = Order.objects.filter(shop=shop).aggregate(
        awaiting_payment=Count("id", filter=Q(status=Status.AWAITING_PAYMENT)),
        awaiting_stock=Count("id", filter=Q(status=Status.AWAITING_STOCK)),
        to_prepare=Count("id", filter=Q(status__in=TO_PREPARE)),
        ready_to_ship=Count("id", filter=Q(status=Status.READY_TO_SHIP)),
        ready_for_pickup=Count("id", filter=Q(status=Status.READY_FOR_PICKUP)),
        exceptions=Count("id", filter=~Q(exception_reason="")),
    )
    parcels = Parcel.objects.filter(shop=shop).aggregate(
        stalled=Count("id", filter=Q(stalled_at__isnull=False)),
    )
    claims = Claim.objects.filter(shop=shop).aggregate(
        open_claims=Count("id", filter=Q(status__in=("open", "in_progress"))),
    )
    returns = ReturnRequest.objects.filter(shop=shop).aggregate(
        returns_requested=Count("id", filter=Q(status=ReturnStatus.REQUESTED.value)),
    )
    dead = OutboxMessage.objects.filter(shop=shop, status=OutboxMessage.Status.DEAD).count()
    disabled = WebhookEndpoint.objects.filter(shop=shop, disabled_at__isnull=False).count()
    return {
        **orders,
        **parcels,
        **claims,
        **returns,
        "dead_messages": dead,
        "disabled_endpoints": disabled,
    }
