"""Order endpoints: parse the request, call one service or selector, render the result."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.params import functions as params

from suivi.core.errors import DomainError, InvalidInput
from suivi.orders import selectors
from suivi.orders.batch import ActionItem, order_apply_actions, order_create_many
from suivi.orders.lifecycle import Action, Status
from suivi.orders.models import Order
from suivi.orders.services import (
    AddressInput,
    CustomerInput,
    LineCancellation,
    LineInput,
    OrderInput,
    order_apply_action,
    order_cancel,
    order_cancel_lines,
    order_create,
    order_invoice,
)
from suivi.shops.models import Shop

from . import render
from .auth import request_actor, request_shop
from .fields import MAX_ID, Moment, Reference
from .idempotency import IdempotencyKey, idempotent
from .pagination import cursor_decode
from .problems import Problem, domain_problem_body
from .schemas import (
    ActionBatchOut,
    ActionIn,
    ApiAction,
    BatchActionsIn,
    CancelIn,
    CancelLinesIn,
    EventPageOut,
    InvoiceOut,
    OrderBatchIn,
    OrderBatchOut,
    OrderCreateIn,
    OrderOut,
    OrderPageOut,
)

router = Router(tags=["orders"])

OrderId: Any = params.Path(
    ..., ge=1, le=MAX_ID, description="The order's id (not its reference).", example=1
)
Limit: Any = params.Query(50, ge=1, le=200, description="Page size.")
Cursor: Any = params.Query(None, max_length=200, description="next_cursor of the previous page.")
StatusFilter: Any = params.Query(None, description="Only orders in this status.")
ReferenceFilter: Any = params.Query(None, description="Only the order with this reference.")
PlacedAfter: Any = params.Query(None, description="Placed at or after this time (with a timezone).")
PlacedBefore: Any = params.Query(None, description="Placed before this time (with a timezone).")

# Which optional action fields make sense for which action.
_ACTION_FIELDS: dict[str, frozenset[Action]] = {
    "warehouse": frozenset({Action.ROUTE}),
    "carrier": frozenset({Action.SHIP}),
    "tracking_number": frozenset({Action.SHIP}),
}


def _problems(*statuses: int) -> dict[int, type[Problem]]:
    return {status: Problem for status in statuses}


def _order_input(shop: Shop, data: OrderCreateIn) -> OrderInput:
    address = data.shipping_address
    return OrderInput(
        reference=data.reference,
        customer=CustomerInput(
            email=data.customer.email,
            phone=data.customer.phone,
            first_name=data.customer.first_name,
            last_name=data.customer.last_name,
        ),
        fulfilment_mode=data.fulfilment_mode,
        lines=[
            LineInput(
                sku=line.sku,
                name=line.name,
                unit_price=line.unit_price,
                quantity=line.quantity,
                tax_rate=line.tax_rate,
            )
            for line in data.lines
        ],
        currency=data.currency,
        language=data.language,
        shipping_amount=data.shipping_amount,
        shipping_address=(
            AddressInput(
                name=address.name,
                line1=address.line1,
                line2=address.line2,
                postcode=address.postcode,
                city=address.city,
                country=address.country,
            )
            if address
            else None
        ),
        pickup_location_code=data.pickup_store,
        promised_delivery_date=data.promised_delivery_date,
        placed_at=data.placed_at,
        paid=data.paid,
        metadata=data.metadata or {},
    )


def _batch_data(
    results: list[Order | DomainError], *, prefix: str, ok_status: int
) -> dict[str, Any]:
    """Render per-item batch results: the order's summary, or the problem that refused it."""
    items: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        if isinstance(result, Order):
            summary = {
                "id": result.pk,
                "reference": result.reference,
                "status": result.status,
                "version": result.version,
                "total_amount": str(result.total_amount),
            }
            items.append({"index": index, "status": ok_status, "order": summary, "problem": None})
        else:
            problem = domain_problem_body(result, prefix=f"{prefix}.{index}.")
            items.append(
                {"index": index, "status": result.status, "order": None, "problem": problem}
            )
    done = sum(1 for item in items if item["order"] is not None)
    return {
        "created" if ok_status == 201 else "applied": done,
        "refused": len(items) - done,
        "results": items,
    }


def _order_response(shop: Shop, order_id: int, *, status: int = 200) -> HttpResponse:
    return render.json_response(
        render.order_data(selectors.order_detail(shop=shop, order_id=order_id)), status=status
    )


@router.post(
    "/orders",
    response={201: OrderOut, **_problems(400, 401, 409, 422)},
    summary="Create an order",
    operation_id="order_create",
)
def create_order(
    request: HttpRequest, payload: OrderCreateIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Create an order (status ``awaiting_payment``, or ``to_prepare`` when ``paid``)."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        order = order_create(
            shop=shop, data=_order_input(shop, payload), actor=request_actor(request)
        )
        return _order_response(shop, order.pk, status=201)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/orders/batch",
    response={200: OrderBatchOut, **_problems(400, 401, 422)},
    summary="Create up to 100 orders at once",
    operation_id="order_create_batch",
)
def create_orders(
    request: HttpRequest, payload: OrderBatchIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Create each order of the batch in one transaction; a refused item refuses only itself.

    The answer lists, per item and in request order, the created order's summary or the
    problem that refused it (e.g. a duplicate reference). A body that fails validation is
    refused whole (422) before anything is written.
    """
    shop = request_shop(request)

    def handler() -> HttpResponse:
        results = order_create_many(
            shop=shop,
            items=[_order_input(shop, item) for item in payload.orders],
            actor=request_actor(request),
        )
        return render.json_response(_batch_data(results, prefix="orders", ok_status=201))

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/orders/actions",
    response={200: ActionBatchOut, **_problems(400, 401, 422)},
    summary="Apply up to 100 lifecycle actions at once",
    operation_id="order_apply_actions",
)
def apply_actions(
    request: HttpRequest, payload: BatchActionsIn, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Apply each action in request order, in one transaction; a refused one refuses only itself.

    Each result gives the order as it is after the whole batch (an order may appear several
    times, e.g. ``ship`` then ``mark_in_transit``), or the problem that refused the item.
    """
    shop = request_shop(request)

    def handler() -> HttpResponse:
        results = order_apply_actions(
            shop=shop,
            items=[
                ActionItem(
                    order_id=item.order_id,
                    action=Action(item.action.value),
                    expected_version=item.expected_version,
                )
                for item in payload.actions
            ],
            actor=request_actor(request),
        )
        return render.json_response(_batch_data(results, prefix="actions", ok_status=200))

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.get(
    "/orders",
    response={200: OrderPageOut, **_problems(400, 401, 422)},
    summary="List orders, newest first",
    operation_id="order_list",
)
def list_orders(
    request: HttpRequest,
    status: Status | None = StatusFilter,
    reference: Reference | None = ReferenceFilter,
    placed_after: Moment | None = PlacedAfter,
    placed_before: Moment | None = PlacedBefore,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> HttpResponse:
    """List the shop's orders newest first, by pages linked with an opaque cursor."""
    page = selectors.order_list(
        shop=request_shop(request),
        status=status,
        reference=reference,
        placed_after=placed_after,
        placed_before=placed_before,
        before_id=cursor_decode(render.ORDER_CURSOR, cursor) if cursor else None,
        limit=limit,
    )
    return render.json_response(render.order_page_data(page))


@router.get(
    "/orders/{order_id}",
    response={200: OrderOut, **_problems(401, 404, 422)},
    summary="Get an order",
    operation_id="order_get",
)
def get_order(request: HttpRequest, order_id: int = OrderId) -> HttpResponse:
    """Return one order of the shop."""
    return _order_response(request_shop(request), order_id)


@router.post(
    "/orders/{order_id}/actions/{action}",
    response={200: OrderOut, **_problems(400, 401, 404, 409, 422)},
    summary="Move an order along its lifecycle",
    operation_id="order_apply_action",
)
def apply_action(
    request: HttpRequest,
    action: ApiAction,
    order_id: int = OrderId,
    payload: ActionIn | None = None,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Apply *action*; ``GET /lifecycle`` and ``available_actions`` say which apply when."""
    shop = request_shop(request)
    body = payload or ActionIn.model_validate({})
    lifecycle_action = Action(action.value)
    extra: dict[str, Any] = {}
    for name, allowed in _ACTION_FIELDS.items():
        value = getattr(body, name)
        if value is None:
            continue
        if lifecycle_action not in allowed:
            actions = ", ".join(sorted(a.value for a in allowed))
            raise InvalidInput(f"Only {actions} takes a {name}.", field=name)
        extra[name] = value
    if body.note:
        extra["note"] = body.note

    def handler() -> HttpResponse:
        order = order_apply_action(
            shop=shop,
            order_id=order_id,
            action=lifecycle_action,
            actor=request_actor(request),
            expected_version=body.expected_version,
            payload=extra,
        )
        return _order_response(shop, order.pk)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/orders/{order_id}/cancel",
    response={200: OrderOut, **_problems(400, 401, 404, 409, 422)},
    summary="Cancel a whole order",
    operation_id="order_cancel",
)
def cancel_order(
    request: HttpRequest,
    payload: CancelIn,
    order_id: int = OrderId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Cancel the order; a credit note is issued when it was invoiced."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        order = order_cancel(
            shop=shop,
            order_id=order_id,
            reason=payload.reason,
            note=payload.note,
            actor=request_actor(request),
        )
        return _order_response(shop, order.pk)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/orders/{order_id}/cancel-lines",
    response={200: OrderOut, **_problems(400, 401, 404, 409, 422)},
    summary="Cancel some quantity of some lines",
    operation_id="order_cancel_lines",
)
def cancel_lines(
    request: HttpRequest,
    payload: CancelLinesIn,
    order_id: int = OrderId,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Cancel quantities of lines; the order is cancelled when nothing is left."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        order = order_cancel_lines(
            shop=shop,
            order_id=order_id,
            cancellations=[
                LineCancellation(position=line.position, quantity=line.quantity)
                for line in payload.lines
            ],
            reason=payload.reason,
            note=payload.note,
            actor=request_actor(request),
        )
        return _order_response(shop, order.pk)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.post(
    "/orders/{order_id}/invoice",
    response={201: InvoiceOut, **_problems(400, 401, 404, 409, 422)},
    summary="Issue the order's invoice",
    operation_id="order_invoice",
)
def invoice_order(
    request: HttpRequest, order_id: int = OrderId, idempotency_key: str | None = IdempotencyKey
) -> HttpResponse:
    """Issue the invoice with the shop's next number (paid, not yet invoiced orders)."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        invoice = order_invoice(shop=shop, order_id=order_id, actor=request_actor(request))
        return render.json_response(render.invoice_data(invoice), status=201)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


@router.get(
    "/orders/{order_id}/events",
    response={200: EventPageOut, **_problems(400, 401, 404, 422)},
    summary="List an order's timeline, oldest first",
    operation_id="order_events",
)
def list_events(
    request: HttpRequest,
    order_id: int = OrderId,
    limit: int = Limit,
    cursor: str | None = Cursor,
) -> HttpResponse:
    """Return the order's events (every change), oldest first."""
    page = selectors.order_events(
        shop=request_shop(request),
        order_id=order_id,
        after_id=cursor_decode(render.EVENT_CURSOR, cursor) if cursor else None,
        limit=limit,
    )
    return render.json_response(render.event_page_data(page))
