"""The orders list of the back office: search, filters, sort and keyset pagination.

Built to stay an index range scan on a shop with 100k orders:

- every sort is a keyset on (sort key, id) served by an existing index — newest/oldest by
  ``(shop, -id)``, reference by the unique ``(shop, reference)``, status by
  ``(shop, status, -id)``; total has no index and is a top-N sort of the shop's rows
  (measured acceptable; see the report of issue 6);
- the search box is resolved first into a handful of ids through indexed lookups
  (reference ``(shop, reference)``, tracking number ``(shop, tracking_number)`` on parcels
  and ``(shop, carrier, tracking_number)`` on legs with the carriers the number may
  belong to) plus the matching customers (a scan of the shop's customers, capped), so the
  list query itself becomes ``id IN (…) OR customer_id IN (…)``: two bitmap index scans;
- a page is 50 rows plus one to know whether another follows: no COUNT, no OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from suivi.carriers import detection
from suivi.customers.models import Customer
from suivi.orders.lifecycle import Status
from suivi.orders.models import Order
from suivi.shipments.models import Parcel, ParcelLeg
from suivi.shipments.services import normalise_number, same_connector
from suivi.shops.models import Shop

PAGE_SIZE = 50
MAX_CUSTOMERS = 1000
# The home page's "to prepare" queue: one value for three statuses.
TO_PREPARE_GROUP = "to_prepare"
TO_PREPARE_STATUSES = (Status.ROUTED, Status.TO_PREPARE, Status.IN_PREPARATION)

# name -> ((field, descending), …); the last key is always the id (unique: a total order).
SORTS: dict[str, tuple[tuple[str, bool], ...]] = {
    "newest": (("id", True),),
    "oldest": (("id", False),),
    "reference": (("reference", False), ("id", False)),
    "total_desc": (("total_amount", True), ("id", True)),
    "total_asc": (("total_amount", False), ("id", False)),
    "status": (("status", False), ("id", True)),
}
SORT_LABELS = {
    "newest": _("Newest first"),
    "oldest": _("Oldest first"),
    "reference": _("Order number"),
    "total_desc": _("Total, highest first"),
    "total_asc": _("Total, lowest first"),
    "status": _("Status"),
}
DEFAULT_SORT = "newest"


@dataclass(frozen=True)
class OrderFilters:
    """What the list is asked for (already validated by the filter form)."""

    q: str = ""
    statuses: tuple[str, ...] = ()
    mode: str = ""
    carrier: str = ""
    date_from: date | None = None
    date_to: date | None = None
    exception: bool = False
    stalled: bool = False
    partially_cancelled: bool = False
    sort: str = DEFAULT_SORT


@dataclass(frozen=True)
class OrderRow:
    """One line of the list: the order with its customer and parcels."""

    order: Order
    parcels: list[Parcel]

    @property
    def stalled(self) -> bool:
        return any(parcel.stalled_at is not None for parcel in self.parcels)


@dataclass
class OrderPage:
    rows: list[OrderRow]
    next_cursor: str | None
    too_many_customers: bool = False
    ids: list[int] = field(default_factory=list)


def expand_statuses(values: tuple[str, ...] | list[str]) -> list[str]:
    """The statuses asked for, with the "to prepare" queue standing for its three."""
    found: list[str] = []
    for value in values:
        group = TO_PREPARE_STATUSES if value == TO_PREPARE_GROUP else (Status(value),)
        found.extend(s.value for s in group if s.value not in found)
    return found


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _search(shop: Shop, orders: QuerySet[Order], q: str) -> tuple[QuerySet[Order], bool]:
    """Restrict *orders* to those whose number, customer or tracking number match *q*."""
    ids: set[int] = set(
        Order.objects.filter(shop=shop, reference__in={q, q.upper()}).values_list("pk", flat=True)
    )
    number = normalise_number(q)
    if 4 <= len(number) <= 64:
        ids.update(
            Parcel.objects.filter(shop=shop, tracking_number=number).values_list(
                "order_id", flat=True
            )
        )
        carriers = {
            code
            for candidate in detection.detect(number)
            for code in same_connector(candidate.carrier)
        }
        if carriers:  # hand-off legs (destination carriers) under their own numbers
            ids.update(
                ParcelLeg.objects.filter(
                    shop=shop, carrier__in=carriers, tracking_number=number
                ).values_list("parcel__order_id", flat=True)
            )
    if ids:  # an order number or a tracking number: no need to scan the customers
        return orders.filter(pk__in=sorted(ids)), False
    customers = Customer.objects.filter(shop=shop)
    if "@" in q and " " not in q.strip():
        # A whole address: the unique (shop, email) index (emails are stored lowercase).
        exact = list(customers.filter(email=q.strip().lower()).values_list("pk", flat=True))
        if exact:
            return orders.filter(customer_id__in=exact), False
    for word in q.split():
        customers = customers.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    customer_ids = list(customers.order_by().values_list("pk", flat=True)[: MAX_CUSTOMERS + 1])
    too_many = len(customer_ids) > MAX_CUSTOMERS
    if not ids and not customer_ids:
        return orders.none(), False
    return orders.filter(
        Q(pk__in=sorted(ids)) | Q(customer_id__in=customer_ids[:MAX_CUSTOMERS])
    ), too_many


def filtered(shop: Shop, filters: OrderFilters) -> tuple[QuerySet[Order], bool]:
    """The shop's orders matching *filters* (unsorted), and whether the search was capped."""
    orders = Order.objects.filter(shop=shop)
    if filters.statuses:
        orders = orders.filter(status__in=expand_statuses(filters.statuses))
    if filters.mode:
        orders = orders.filter(fulfilment_mode=filters.mode)
    if filters.date_from:
        orders = orders.filter(placed_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        orders = orders.filter(placed_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if filters.exception:
        orders = orders.exclude(exception_reason="")
    if filters.partially_cancelled:
        orders = orders.filter(is_partially_cancelled=True).exclude(status=Status.CANCELLED)
    if filters.carrier:
        orders = orders.filter(
            pk__in=Parcel.objects.filter(shop=shop, carrier=filters.carrier).values("order_id")
        )
    if filters.stalled:
        orders = orders.filter(
            pk__in=Parcel.objects.filter(shop=shop, stalled_at__isnull=False).values("order_id")
        )
    too_many = False
    if filters.q:
        orders, too_many = _search(shop, orders, filters.q)
    return orders, too_many


# --- keyset cursors -----------------------------------------------------------------------


def _value(order: Order, name: str) -> Any:
    value = getattr(order, name)
    return str(value) if isinstance(value, Decimal) else value


def encode_cursor(order: Order, sort: str) -> str:
    """The opaque position after *order* in the list sorted by *sort*."""
    values = [_value(order, name) for name, _desc in SORTS[sort]]
    raw = json.dumps([sort, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any] | None:
    """The key values a cursor holds, or None if it is not a cursor of this sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found, values = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        return None
    keys = SORTS[sort]
    if found != sort or not isinstance(values, list) or len(values) != len(keys):
        return None
    clean: list[Any] = []
    for (name, _desc), value in zip(keys, values, strict=True):
        try:
            if name == "id":
                clean.append(int(value))
            elif name == "total_amount":
                clean.append(Decimal(str(value)))
            elif isinstance(value, str):
                clean.append(value)
            else:
                return None
        except (ValueError, InvalidOperation):
            return None
    return clean


def _after(keys: tuple[tuple[str, bool], ...], values: list[Any]) -> Q:
    """Rows strictly after *values* in the order of *keys* (lexicographic)."""
    condition = Q()
    equal = Q()
    for (name, desc), value in zip(keys, values, strict=True):
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": value})
        condition |= equal & step
        equal &= Q(**{name: value})
    return condition


def order_page(*, shop: Shop, filters: OrderFilters, cursor: str | None = None) -> OrderPage:
    """One page of the list: at most :data:`PAGE_SIZE` rows, and the cursor of the next."""
    sort = filters.sort if filters.sort in SORTS else DEFAULT_SORT
    keys = SORTS[sort]
    orders, too_many = filtered(shop, filters)
    if cursor:
        values = decode_cursor(cursor, sort)
        if values is not None:
            orders = orders.filter(_after(keys, values))
    ordering = [f"-{name}" if desc else name for name, desc in keys]
    found = list(orders.select_related("customer").order_by(*ordering)[: PAGE_SIZE + 1])
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    parcels: dict[int, list[Parcel]] = defaultdict(list)
    if found:
        for parcel in (
            Parcel.objects.filter(shop=shop, order_id__in=[o.pk for o in found])
            .only("order_id", "carrier", "tracking_number", "tracking_url", "stalled_at", "status")
            .order_by("pk")
        ):
            parcels[parcel.order_id].append(parcel)
    return OrderPage(
        rows=[OrderRow(order=o, parcels=parcels[o.pk]) for o in found],
        next_cursor=encode_cursor(found[-1], sort) if more and found else None,
        too_many_customers=too_many,
        ids=[o.pk for o in found],
    )
