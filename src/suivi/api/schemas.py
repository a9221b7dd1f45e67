"""Request and response schemas of the v1 API (they make the OpenAPI document).

Requests refuse unknown fields (``extra="forbid"``): a misspelt optional field would
otherwise be dropped without a word. Responses are rendered by :mod:`.render`; these
classes describe them, and the tests validate rendered bodies against them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from suivi.orders.batch import MAX_BATCH
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status, Step

from .fields import (
    MAX_AMOUNT,
    MAX_ID,
    MAX_LINES,
    AddressLine,
    AddressName,
    Amount,
    City,
    CountryCode,
    CurrencyCode,
    Day,
    Email,
    LineName,
    LocationCode,
    Metadata,
    Moment,
    Note,
    OptionalAddressLine,
    PersonName,
    Phone,
    Position,
    Postcode,
    Quantity,
    Reference,
    ShortText,
    Sku,
    TaxRate,
    Version,
)

# The actions of the actions endpoint: the lifecycle's, except cancel (its own endpoints).
ApiAction = StrEnum(  # type: ignore[misc]
    "ApiAction", [(action.name, action.value) for action in Action if action is not Action.CANCEL]
)

# Amounts are rendered as strings: JSON numbers are floats in most clients.
DecimalStr = Annotated[str, Field(description="Decimal as a string.", examples=["49.90"])]


class In(BaseModel):
    """Base of request bodies: unknown fields are errors.

    Plain pydantic rather than ``ninja.Schema``: the latter wraps every nested object in
    a validator that resolves ORM attributes, which bodies never need and which cost a
    measurable share of order creation.
    """

    model_config = ConfigDict(extra="forbid")


# --- requests ---------------------------------------------------------------------------


class CustomerIn(In):
    email: Email
    phone: Phone = Field("", description="Any format; stored in E.164 (validated).")
    first_name: PersonName = ""
    last_name: PersonName = ""


class LineIn(In):
    sku: Sku
    name: LineName
    unit_price: Amount = Field(description="Decimal as a string or a number.")
    quantity: Quantity
    tax_rate: TaxRate = Decimal("20.00")


class AddressIn(In):
    name: AddressName
    line1: AddressLine
    line2: OptionalAddressLine = ""
    postcode: Postcode
    city: City
    country: CountryCode | None = Field(None, description="ISO 3166 code; the shop's country.")


ORDER_EXAMPLE: dict[str, Any] = {
    "reference": "WEB-100234",
    "fulfilment_mode": "delivery",
    "customer": {
        "email": "claire.martin@example.fr",
        "phone": "06 12 34 56 78",
        "first_name": "Claire",
        "last_name": "Martin",
    },
    "lines": [
        {"sku": "PULL-M", "name": "Pull marin", "unit_price": "49.90", "quantity": 2},
        {"sku": "BONNET", "name": "Bonnet", "unit_price": "15.00", "quantity": 1},
    ],
    "shipping_amount": "4.90",
    "shipping_address": {
        "name": "Claire Martin",
        "line1": "3 place Bellecour",
        "postcode": "69002",
        "city": "Lyon",
        "country": "FR",
    },
    "promised_delivery_date": "2030-05-04",
    "paid": True,
    "metadata": {"channel": "web"},
}


class OrderCreateIn(In):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [ORDER_EXAMPLE]})

    reference: Reference = Field(description="The sales channel's order number, unique per shop.")
    fulfilment_mode: Mode
    customer: CustomerIn
    # Declared before ``lines`` so that the lines' total can be checked against it.
    shipping_amount: Amount = Decimal("0")
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    currency: CurrencyCode | None = Field(None, description="ISO 4217; the shop's currency.")
    language: Literal["fr", "en"] | None = Field(None, description="Defaults to the shop's.")
    shipping_address: AddressIn | None = None
    pickup_store: LocationCode | None = Field(None, description="Store code (Click & Collect).")
    promised_delivery_date: Day | None = None
    placed_at: Moment | None = Field(None, description="With a timezone; defaults to now.")
    paid: bool = False
    metadata: Metadata | None = Field(None, description="Free JSON object kept on the event.")

    @field_validator("lines")
    @classmethod
    def _total_fits(cls, lines: list[LineIn], info: ValidationInfo) -> list[LineIn]:
        # Order totals are numeric(12, 2): refuse what could not be stored.
        total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
        total += info.data.get("shipping_amount") or Decimal(0)
        if total > MAX_AMOUNT:
            raise ValueError(f"the order total must not exceed {MAX_AMOUNT}")
        return lines


class OrderBatchIn(In):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"orders": [ORDER_EXAMPLE]}]}
    )

    orders: list[OrderCreateIn] = Field(min_length=1, max_length=MAX_BATCH)


class OrderSummaryOut(Schema):
    id: int
    reference: str
    status: Status
    version: int
    total_amount: str


class OrderBatchItemOut(Schema):
    index: int = Field(description="Position of the item in the request.")
    status: int = Field(
        description="201 when created, 200 when the action applied, else the problem's status."
    )
    order: OrderSummaryOut | None = None
    problem: dict[str, Any] | None = Field(None, description="RFC 9457 problem of a refused item.")


class OrderBatchOut(Schema):
    created: int
    refused: int
    results: list[OrderBatchItemOut]


class ActionBatchOut(Schema):
    applied: int
    refused: int
    results: list[OrderBatchItemOut]


class BatchActionItemIn(In):
    model_config = ConfigDict(extra="forbid")

    order_id: int = Field(ge=1, le=MAX_ID)
    action: ApiAction
    expected_version: Version | None = None


class BatchActionsIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "actions": [
                        {"order_id": 1, "action": "confirm_payment"},
                        {"order_id": 2, "action": "ship", "expected_version": 4},
                    ]
                }
            ]
        },
    )

    actions: list[BatchActionItemIn] = Field(min_length=1, max_length=MAX_BATCH)


class ActionIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"carrier": "colissimo", "tracking_number": "6A12345678901"}]
        },
    )

    expected_version: Version | None = Field(
        None, description="Refuse (409 concurrent-change) unless the order is at this version."
    )
    note: Note | None = None
    warehouse: LocationCode | None = Field(None, description="Warehouse code (route only).")
    carrier: ShortText | None = Field(None, description="Carrier name (ship only).")
    tracking_number: ShortText | None = Field(None, description="Tracking number (ship only).")


class CancelIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "customer_request", "note": "By phone"}]},
    )

    reason: CancellationReason
    note: Note = ""


class LineCancellationIn(In):
    position: Position
    quantity: Quantity


class CancelLinesIn(In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "sold_in_store", "lines": [{"position": 1, "quantity": 1}]}]
        },
    )

    reason: CancellationReason
    note: Note = ""
    lines: list[LineCancellationIn] = Field(min_length=1, max_length=MAX_LINES)


# --- responses --------------------------------------------------------------------------


class FactsOut(Schema):
    partially_cancelled: bool
    exception: str | None
    invoiced: bool


class CustomerOut(Schema):
    email: str
    phone: str | None = Field(description="E.164")
    first_name: str
    last_name: str


class LineOut(Schema):
    position: int
    sku: str
    name: str
    unit_price: DecimalStr
    tax_rate: DecimalStr
    quantity_ordered: int
    quantity_cancelled: int
    quantity_shipped: int
    quantity_collected: int


class AddressOut(Schema):
    name: str
    line1: str
    line2: str
    postcode: str
    city: str
    country: str


class DocumentRefOut(Schema):
    number: str
    total_amount: DecimalStr


class OrderOut(Schema):
    id: int
    reference: str
    status: Status
    status_label: str
    public_step: Step
    fulfilment_mode: Mode
    version: int
    facts: FactsOut
    customer: CustomerOut
    lines: list[LineOut]
    currency: str
    language: str
    lines_amount: DecimalStr
    shipping_amount: DecimalStr
    total_amount: DecimalStr
    shipping_address: AddressOut | None
    pickup_store: str | None
    promised_delivery_date: date | None
    placed_at: datetime
    cancellation_reason: CancellationReason | None
    available_actions: list[Action]
    invoice: DocumentRefOut | None
    credit_notes: list[DocumentRefOut]


class OrderPageOut(Schema):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: end.")


class InvoiceLineOut(Schema):
    position: int
    sku: str
    name: str
    unit_price: DecimalStr
    tax_rate: DecimalStr
    quantity: int
    amount: DecimalStr


class InvoiceOut(Schema):
    number: str
    issued_at: datetime
    total_amount: DecimalStr
    currency: str
    lines: list[InvoiceLineOut]
    shipping_amount: DecimalStr


class EventOut(Schema):
    id: int
    type: str = Field(examples=["order.shipped"])
    actor: str = Field(examples=["api-key:1a2b3c4d"])
    occurred_at: datetime
    payload: dict[str, Any]


class EventPageOut(Schema):
    items: list[EventOut]
    next_cursor: str | None


class LabelsOut(Schema):
    fr: str
    en: str


class StatusOut(Schema):
    code: Status
    label: LabelsOut = Field(description="Merchant-facing label.")
    customer_label: LabelsOut
    public_step: Step
    internal: bool = Field(description="Hidden from customers (they see the step instead).")
    terminal: bool
    cancellable: bool


class StepOut(Schema):
    code: Step
    label: LabelsOut


class ActionOut(Schema):
    code: Action
    targets: dict[str, Status | None] = Field(description="Status reached, per mode.")


class CancellationReasonOut(Schema):
    code: CancellationReason
    label: LabelsOut


class LifecycleOut(Schema):
    modes: list[Mode]
    statuses: list[StatusOut]
    steps: list[StepOut]
    public_steps: dict[str, list[Step]]
    actions: list[ActionOut]
    transitions: dict[str, dict[str, list[Status]]] = Field(
        description="Per mode, the statuses each status may move to."
    )
    cancellation_reasons: list[CancellationReasonOut]
