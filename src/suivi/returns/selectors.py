"""Reads about returns: what an order allows to return, and returns scoped to their reader.

Eligibility is a domain rule, decided here and nowhere else (the services check it again
under the order's lock; the pages only show it):

* the order must be **delivered** (delivery) or **collected** (Click & Collect): the
  lifecycle's terminal statuses say the goods reached the customer;
* the **delivery date** is when the order entered that status — the ``order.delivered`` /
  ``order.collected`` timeline event (``payload["to"]``), which every path writes (the
  merchant's action, the batch actions and the carrier-driven moves). Only when an order
  has no such event (data imported in that status) the latest ``Parcel.delivered_at``
  stands in;
* the **window** is ``Shop.return_window_days`` calendar days after the delivery date, in the
  shop's time zone, up to the end of the last day; 0 days means the shop takes no return
  requests online;
* per line, the **returnable quantity** is what was shipped or collected, minus what came
  back to the sender undelivered (parcels ``returned`` without a delivery), minus what is
  already in return requests that were not refused or cancelled.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from suivi.carriers.vocabulary import Status as ParcelStatus
from suivi.core.errors import NotFound
from suivi.orders.lifecycle import EVENT_TYPES, Mode, Status
from suivi.orders.models import Order, OrderEvent, OrderLine
from suivi.shipments.models import Parcel, ParcelLine
from suivi.shops.models import Shop

from .lifecycle import RELEASED, ReturnStatus
from .models import ReturnLine, ReturnRequest

_DELIVERED = (Status.DELIVERED, Status.COLLECTED)


# --- eligibility ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineEligibility:
    """What can still be returned of one order line, and why not when nothing can."""

    line: OrderLine
    delivered: int  # reached the customer
    held: int  # already in open return requests

    @property
    def eligible(self) -> int:
        return max(0, self.delivered - self.held)

    @property
    def reason(self) -> str:
        """``""`` when something can be returned, else a code."""
        if self.eligible:
            return ""
        if self.line.quantity_active == 0:
            return "cancelled"
        if self.delivered == 0:
            return "not-delivered"
        return "already-returned"

    @property
    def message(self) -> str:
        return {
            "": "",
            "cancelled": gettext("Cancelled"),
            "not-delivered": gettext("Not delivered"),
            "already-returned": gettext("Already in a return request"),
        }[self.reason]


@dataclass(frozen=True)
class OrderEligibility:
    """Whether an order can be returned now, until when, and what of each line."""

    order: Order
    reason: str  # "" when a return can be requested, else a code (see errors.NotReturnable)
    delivered_at: dt.datetime | None
    deadline: dt.datetime | None  # the window closes at this moment (exclusive)
    lines: tuple[LineEligibility, ...]

    @property
    def is_open(self) -> bool:
        return not self.reason

    @property
    def eligible_lines(self) -> list[LineEligibility]:
        return [item for item in self.lines if item.eligible]

    @property
    def last_day(self) -> dt.date | None:
        """The last day a return can be requested, in the shop's time zone."""
        if self.deadline is None:
            return None
        return self.deadline.date() - dt.timedelta(days=1)

    @property
    def message(self) -> str:
        """Why a return cannot be requested (``""`` when it can), in the active language."""
        order = self.order
        if self.reason == "cancelled":
            return gettext("This order was cancelled: there is nothing to return.")
        if self.reason == "returns-disabled":
            return gettext(
                "This shop does not take return requests online; please contact its customer"
                " service."
            )
        if self.reason == "not-delivered":
            if order.fulfilment_mode == Mode.CLICK_AND_COLLECT:
                return gettext("Items can be returned once the order has been collected.")
            return gettext("Items can be returned once the order has been delivered.")
        if self.reason == "no-delivery-date":
            return gettext(
                "The delivery date of this order is unknown, so a return cannot be requested"
                " online; please contact the shop's customer service."
            )
        if self.reason == "window-closed":
            days = order.shop.return_window_days
            return ngettext(
                "The return period ended on %(date)s (%(days)d day after delivery).",
                "The return period ended on %(date)s (%(days)d days after delivery).",
                days,
            ) % {"date": format_day(self.last_day), "days": days}
        if self.reason == "nothing-left":
            return gettext("Every delivered item of this order is already in a return request.")
        return ""


def shop_timezone(shop: Shop) -> dt.tzinfo:
    """The shop's time zone (Europe/Paris when its setting is not a known zone)."""
    try:
        return ZoneInfo(shop.timezone or "Europe/Paris")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Europe/Paris")


def format_day(day: dt.date | dt.datetime | None, shop: Shop | None = None) -> str:
    """``15 mars 2026`` / ``March 15, 2026`` in the active language (shop's zone for a time)."""
    if day is None:
        return ""
    if isinstance(day, dt.datetime):
        tz = shop_timezone(shop) if shop is not None else timezone.get_current_timezone()
        day = day.astimezone(tz).date()
    locale = translation.to_locale(translation.get_language() or "fr")
    return str(format_date(day, "long", locale=locale))


def delivery_moment(order: Order) -> dt.datetime | None:
    """When *order* was delivered or collected (None if it never was)."""
    types = [EVENT_TYPES[Status.DELIVERED], EVENT_TYPES[Status.COLLECTED]]
    moment = (
        OrderEvent.objects.filter(
            shop_id=order.shop_id,
            order_id=order.pk,
            type__in=types,
            payload__to__in=[s.value for s in _DELIVERED],
        )
        .order_by("occurred_at", "pk")
        .values_list("occurred_at", flat=True)
        .first()
    )
    if moment is not None:
        return moment
    fallback: dt.datetime | None = Parcel.objects.filter(
        shop_id=order.shop_id, order_id=order.pk
    ).aggregate(last=Max("delivered_at"))["last"]
    return fallback


def _returned_to_sender(order: Order) -> dict[int, int]:
    """Quantities of each line that came back to the shop without reaching the customer.

    Goods sent again in a replacement parcel (a claim resolved by reship) make up for those
    lost: per line, what came back minus what was sent again, never below zero — so a lost
    parcel whose sweaters were re-sent leaves them returnable, its beanie not re-sent does
    not, and a replacement that came back too leaves nothing.
    """
    lines = ParcelLine.objects.filter(parcel__order_id=order.pk, parcel__shop_id=order.shop_id)

    def totals(rows: QuerySet[ParcelLine]) -> dict[int, int]:
        grouped = rows.values("order_line_id").annotate(total=Sum("quantity"))
        return {line_id: total for line_id, total in grouped.values_list("order_line_id", "total")}

    back = totals(
        lines.filter(parcel__status=ParcelStatus.RETURNED, parcel__delivered_at__isnull=True)
    )
    sent_again = totals(lines.filter(parcel__is_replacement=True))
    return {
        line_id: quantity - sent_again.get(line_id, 0)
        for line_id, quantity in back.items()
        if quantity > sent_again.get(line_id, 0)
    }


def held_quantities(order: Order) -> dict[int, int]:
    """Quantity of each line of *order* in return requests that still hold the items."""
    rows = (
        ReturnLine.objects.filter(shop_id=order.shop_id, order_line__order_id=order.pk)
        .exclude(return_request__status__in=[s.value for s in RELEASED])
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("order_line_id", "total")
    )
    return {line_id: total for line_id, total in rows}


def order_return_eligibility(order: Order, *, now: dt.datetime | None = None) -> OrderEligibility:
    """Tell whether *order* can be returned now, and how many of each line."""
    now = now or timezone.now()
    shop = order.shop
    lines = list(OrderLine.objects.filter(order_id=order.pk).order_by("position"))
    delivered_status = order.status in _DELIVERED
    back = _returned_to_sender(order) if delivered_status else {}
    held = held_quantities(order) if delivered_status else defaultdict(int)
    items = tuple(
        LineEligibility(
            line=line,
            delivered=(
                max(0, line.quantity_shipped + line.quantity_collected - back.get(line.pk, 0))
                if delivered_status
                else 0
            ),
            held=held.get(line.pk, 0),
        )
        for line in lines
    )

    def result(
        reason: str, delivered_at: dt.datetime | None = None, deadline: dt.datetime | None = None
    ) -> OrderEligibility:
        return OrderEligibility(order, reason, delivered_at, deadline, items)

    if order.status == Status.CANCELLED:
        return result("cancelled")
    if shop.return_window_days == 0:
        return result("returns-disabled")
    if not delivered_status:
        return result("not-delivered")
    delivered_at = delivery_moment(order)
    if delivered_at is None:
        return result("no-delivery-date")
    tz = shop_timezone(shop)
    last_day = delivered_at.astimezone(tz).date() + dt.timedelta(days=shop.return_window_days)
    deadline = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    if now >= deadline:
        return result("window-closed", delivered_at, deadline)
    if not any(item.eligible for item in items):
        return result("nothing-left", delivered_at, deadline)
    return result("", delivered_at, deadline)


# --- returns scoped to their reader -----------------------------------------------------


def returns_of_user(user: Any) -> QuerySet[ReturnRequest]:
    """Every return request of *user*'s customer rows (all shops), newest first."""
    if not getattr(user, "is_authenticated", False):
        return ReturnRequest.objects.none()
    return ReturnRequest.objects.filter(customer__user=user).select_related("shop", "order")


def return_of_user(user: Any, return_id: int) -> ReturnRequest:
    """The return *return_id* if *user* owns it; :class:`NotFound` otherwise (whether it
    exists or not)."""
    ret = returns_of_user(user).select_related("credit_note").filter(pk=return_id).first()
    if ret is None:
        raise NotFound("No such return.")
    return ret


def returns_of_order(order: Order) -> QuerySet[ReturnRequest]:
    """The return requests of *order* (whose access the caller has checked), newest first."""
    return ReturnRequest.objects.filter(shop_id=order.shop_id, order_id=order.pk)


def return_lines(ret: ReturnRequest) -> QuerySet[ReturnLine]:
    """The lines of *ret* with their order lines, in the order's line order."""
    return ReturnLine.objects.filter(shop_id=ret.shop_id, return_request=ret).select_related(
        "order_line"
    )


def returns_of_shop(
    *, shop: Shop, status: ReturnStatus | str | None = None
) -> QuerySet[ReturnRequest]:
    """A shop's return requests (optionally in one status), newest first: the back office."""
    rows = ReturnRequest.objects.filter(shop=shop).select_related("order", "customer")
    if status is not None:
        rows = rows.filter(status=ReturnStatus(status).value)
    return rows.order_by("-pk")


def return_of_shop(*, shop: Shop, return_id: int) -> ReturnRequest:
    """The shop's return *return_id*; :class:`NotFound` if another shop's or missing."""
    ret = (
        ReturnRequest.objects.select_related("order", "customer", "credit_note")
        .filter(shop=shop, pk=return_id)
        .first()
    )
    if ret is None:
        raise NotFound("No such return.", return_id=return_id)
    ret.shop = shop
    return ret
