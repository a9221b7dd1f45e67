"""Tracking endpoints: carriers and detection, parcels of an order, carrier accounts, and
the push endpoints carriers (or any system) send tracking events to.

API-key endpoints act on the key's shop. The push endpoints are called by carriers, not by
the merchant: they authenticate with the carrier account's push secret instead —
``POST /tracking/events`` (Suivi's own JSON, HMAC-signed: ``X-Suivi-Account: <id>`` and
``X-Suivi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, five minutes
of tolerance) and ``POST /tracking/webhooks/{account_id}`` (a carrier's native webhook,
checked by its connector: UPS Track Alert, AfterShip).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema
from ninja.params import functions as params
from ninja.security import APIKeyHeader
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    field_validator,
)

from suivi.carriers import detection, registry
from suivi.carriers.vocabulary import (
    Handoff,
    Reason,
    ShipmentUpdate,
    Status,
    TrackingEvent,
)
from suivi.core.errors import DomainError, NotFound
from suivi.shipments import selectors, services
from suivi.shipments.errors import CarrierNotDetected
from suivi.shipments.ingest import MAX_ITEMS, IngestReport, ingest
from suivi.shipments.models import CarrierAccount, Parcel, ParcelLeg
from suivi.shops.models import Shop

from .auth import request_actor, request_shop
from .fields import MAX_ID
from .idempotency import IdempotencyKey, idempotent
from .problems import PROBLEM_CONTENT_TYPE, Problem, problem_body, problem_response
from .render import json_response
from .schemas import In

router = Router(tags=["tracking"])
push_router = Router(tags=["tracking push"])

SIGNATURE_TOLERANCE = 300
MIN_YEAR, MAX_YEAR = 1970, 2999  # the times a pushed event may carry
MAX_PUSH_BYTES = 2 * 1024 * 1024

Carrier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Number = Annotated[str, StringConstraints(strip_whitespace=True, min_length=4, max_length=64)]
OrderId: Any = params.Path(..., ge=1, le=MAX_ID, description="The order's id.", example=1)
ParcelId: Any = params.Path(..., ge=1, le=MAX_ID, description="The parcel's id.", example=1)
AccountId: Any = params.Path(..., ge=1, le=MAX_ID, description="The account's id.", example=1)


def _problems(*statuses: int) -> dict[int, type[Problem]]:
    return {status: Problem for status in statuses}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class NotDetectedProblem(Problem):
    """A problem; when the carrier could not be told from a number (``carrier-not-detected``),
    it also names the number and the carriers it may belong to."""

    tracking_number: str | None = Field(None, description="The number refused (normalised).")
    candidates: list[str] | None = Field(
        None, description="The carriers using numbers like it: give one of them as carrier."
    )


def _not_detected(exc: CarrierNotDetected, field: str) -> HttpResponse:
    body = problem_body(
        code=exc.code,
        status=exc.status,
        detail=exc.message,
        errors=[{"field": field, "message": exc.message}],
    )
    body["tracking_number"] = exc.details.get("tracking_number")
    body["candidates"] = list(exc.details.get("candidates", []))
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=exc.status, content_type=PROBLEM_CONTENT_TYPE
    )


# --- carriers ---------------------------------------------------------------------------


class CarrierOut(Schema):
    code: str
    name: str
    max_numbers_per_call: int
    requests_per_minute: int
    requests_per_day: int | None
    credential_names: list[str]
    push: bool


class CandidateOut(Schema):
    carrier: str
    format: str
    check_digit_verified: bool


class DetectOut(Schema):
    tracking_number: str
    candidates: list[CandidateOut]


@router.get(
    "/carriers",
    response={200: list[CarrierOut], 401: Problem},
    summary="Carriers Suivi can follow",
    operation_id="carriers_list",
)
def list_carriers(request: HttpRequest) -> HttpResponse:
    """Every connector: its limits, the credentials an account needs, whether it pushes."""
    return json_response(
        [
            {
                "code": c.code,
                "name": c.name,
                "max_numbers_per_call": c.max_numbers_per_call,
                "requests_per_minute": c.requests_per_minute,
                "requests_per_day": c.requests_per_day,
                "credential_names": list(c.credential_names),
                "push": c.parse_push is not None,
            }
            for c in registry.CONNECTORS.values()
        ]
    )


@router.get(
    "/carriers/detect",
    response={200: DetectOut, **_problems(401, 422)},
    summary="Which carriers a tracking number may belong to",
    operation_id="carriers_detect",
)
def detect(
    request: HttpRequest,
    number: str = params.Query(..., min_length=1, max_length=64, example="RR123456785FR"),
) -> HttpResponse:
    """Candidates ranked (check digit verified first); several when the number is
    ambiguous, none when no format matches — never one wrong guess."""
    normalised = detection.normalise(number)
    return json_response(
        {
            "tracking_number": normalised,
            "candidates": [
                {
                    "carrier": c.carrier,
                    "format": c.format,
                    "check_digit_verified": c.check_digit_verified,
                }
                for c in detection.detect(normalised)
            ],
        }
    )


# --- parcels ------------------------------------------------------------------------------


class ParcelLineIn(In):
    line: int = Field(ge=1, le=10_000, description="The order line's position.")
    quantity: int = Field(ge=1, le=1_000_000)


class ParcelIn(In):
    tracking_number: Number
    carrier: Carrier | None = Field(
        None, description="Empty: detected from the number (refused when ambiguous)."
    )
    service: Annotated[str, StringConstraints(max_length=64)] = ""
    tracking_url: Annotated[str, StringConstraints(max_length=500)] = ""
    lines: list[ParcelLineIn] | None = Field(
        None, max_length=500, description="Absent: everything not yet in a parcel."
    )

    @field_validator("tracking_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class ParcelsIn(In):
    parcels: list[ParcelIn] = Field(min_length=1, max_length=50)


class TrackingEventOut(Schema):
    status: str
    reason: str
    occurred_at: str = Field(description="The carrier's local time with its UTC offset.")
    code: str
    label: str
    location: str
    country: str
    latitude: float | None
    longitude: float | None
    customs: str
    source: str
    carrier: str
    tracking_number: str


class LegOut(Schema):
    id: int
    carrier: str
    tracking_number: str
    role: str
    polled: bool
    next_poll_at: str | None
    last_polled_at: str | None
    last_error: str


class ParcelLineOut(Schema):
    line: int = Field(description="The order line's position (as in the order).")
    quantity: int


class ParcelOut(Schema):
    id: int
    order_id: int
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    status: str
    reason: str
    eta: str | None
    pickup_deadline: str | None
    relay_point: dict[str, Any]
    customs: str
    stalled: bool
    last_event_at: str | None
    delivered_at: str | None
    replacement: bool = Field(
        description="Sent again to resolve a claim: its goods are not counted as shipped."
    )
    superseded_by: int | None = Field(
        description="The replacement parcel that took over this one's goods, if any."
    )
    lines: list[ParcelLineOut]
    legs: list[LegOut]
    events: list[TrackingEventOut]


class ParcelsOut(Schema):
    parcels: list[ParcelOut]


def _parcel_data(parcel: Parcel, *, events: bool = True) -> dict[str, Any]:
    return {
        "id": parcel.pk,
        "order_id": parcel.order_id,
        "carrier": parcel.carrier,
        "service": parcel.service,
        "tracking_number": parcel.tracking_number,
        "tracking_url": parcel.tracking_url,
        "status": parcel.status,
        "reason": parcel.status_reason,
        "eta": _iso(parcel.eta),
        "pickup_deadline": _iso(parcel.pickup_deadline),
        "relay_point": parcel.relay_point or {},
        "customs": parcel.customs,
        "stalled": parcel.stalled_at is not None,
        "last_event_at": _iso(parcel.last_event_at),
        "delivered_at": _iso(parcel.delivered_at),
        "replacement": parcel.is_replacement,
        "superseded_by": parcel.superseded_by_id,
        "lines": [
            {"line": line.order_line.position, "quantity": line.quantity}
            for line in sorted(parcel.lines.all(), key=lambda line: line.order_line.position)
        ],
        "legs": [_leg_data(leg) for leg in parcel.legs.all()],
        "events": [_event_data(entry) for entry in selectors.timeline(parcel)] if events else [],
    }


def _event_data(entry: selectors.TimelineEntry) -> dict[str, Any]:
    e = entry.event
    return {
        "status": e.status,
        "reason": e.reason,
        "occurred_at": e.local_time.isoformat(),
        "code": e.raw_code,
        "label": e.raw_label,
        "location": e.location,
        "country": e.country,
        "latitude": e.latitude,
        "longitude": e.longitude,
        "customs": e.customs,
        "source": e.source,
        "carrier": entry.carrier,
        "tracking_number": entry.tracking_number,
    }


@router.post(
    "/orders/{order_id}/parcels",
    response={201: ParcelsOut, **_problems(400, 401, 404, 409), 422: NotDetectedProblem},
    summary="Ship an order in one or several parcels",
    operation_id="parcels_create",
)
def create_parcels(
    request: HttpRequest,
    order_id: int = OrderId,
    *,
    payload: ParcelsIn,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    """Add parcels to an order: the first ones ship it. A parcel without a carrier gets the
    one its number tells (refused with the candidates when ambiguous). All or nothing."""
    shop = request_shop(request)

    def handler() -> HttpResponse:
        try:
            created = _create(request, shop, order_id, payload)
        except CarrierNotDetected as exc:
            number = exc.details.get("tracking_number")
            index = next(
                (
                    i
                    for i, p in enumerate(payload.parcels)
                    if detection.normalise(p.tracking_number) == number
                ),
                0,
            )
            return _not_detected(exc, f"parcels.{index}.carrier")
        parcels = selectors.parcels(shop=shop, ids=[p.pk for p in created])
        return json_response({"parcels": [_parcel_data(p) for p in parcels]}, status=201)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


def _create(request: HttpRequest, shop: Shop, order_id: int, payload: ParcelsIn) -> list[Parcel]:
    return services.parcels_create(
        shop=shop,
        order_id=order_id,
        actor=request_actor(request),
        parcels=[
            services.ParcelInput(
                tracking_number=p.tracking_number,
                carrier=p.carrier or "",
                service=p.service,
                tracking_url=p.tracking_url,
                lines=None
                if p.lines is None
                else [
                    services.ParcelLineInput(line=li.line, quantity=li.quantity) for li in p.lines
                ],
            )
            for p in payload.parcels
        ],
    )


@router.get(
    "/orders/{order_id}/parcels",
    response={200: ParcelsOut, **_problems(401, 404, 422)},
    summary="An order's parcels with their carrier events",
    operation_id="parcels_of_order",
)
def order_parcels(request: HttpRequest, order_id: int = OrderId) -> HttpResponse:
    found = selectors.parcels_of_order(shop=request_shop(request), order_id=order_id)
    return json_response({"parcels": [_parcel_data(p) for p in found]})


@router.get(
    "/parcels/{parcel_id}",
    response={200: ParcelOut, **_problems(401, 404, 422)},
    summary="One parcel with its legs and events",
    operation_id="parcel_get",
)
def get_parcel(request: HttpRequest, parcel_id: int = ParcelId) -> HttpResponse:
    return json_response(
        _parcel_data(selectors.parcel(shop=request_shop(request), parcel_id=parcel_id))
    )


# The carriers' status under a name of its own: as "Status" it would replace the order
# status in the document's components (both enums are named Status).
ParcelStatus = Annotated[
    Status,
    WithJsonSchema({"title": "ParcelStatus", "type": "string", "enum": [s.value for s in Status]}),
]


class ParcelListOut(Schema):
    parcels: list[ParcelOut]
    next_cursor: int | None


@router.get(
    "/parcels",
    response={200: ParcelListOut, **_problems(401, 422)},
    summary="Parcels by status, stalled ones first to look at",
    operation_id="parcels_list",
)
def list_parcels(
    request: HttpRequest,
    status: ParcelStatus | None = None,
    stalled: bool | None = None,
    cursor: int = params.Query(
        0, ge=0, le=MAX_ID, description="next_cursor of the previous page (as for orders)."
    ),
    limit: int = params.Query(50, ge=1, le=200),
) -> HttpResponse:
    """The shop's parcels (events left out; open one for its timeline), oldest first."""
    rows, next_cursor = selectors.parcel_page(
        shop=request_shop(request),
        status=status.value if status is not None else None,
        stalled=stalled,
        after=cursor,
        limit=limit,
    )
    return json_response(
        {"parcels": [_parcel_data(p, events=False) for p in rows], "next_cursor": next_cursor}
    )


class LegIn(In):
    tracking_number: Number
    carrier: Carrier | None = None


@router.post(
    "/parcels/{parcel_id}/legs",
    response={201: LegOut, **_problems(400, 401, 404, 409), 422: NotDetectedProblem},
    summary="Follow a parcel's hand-off to a destination carrier",
    operation_id="parcel_leg_add",
)
def add_leg(
    request: HttpRequest,
    parcel_id: int = ParcelId,
    *,
    payload: LegIn,
    idempotency_key: str | None = IdempotencyKey,
) -> HttpResponse:
    shop = request_shop(request)

    def handler() -> HttpResponse:
        try:
            leg = services.leg_add(
                shop=shop,
                parcel_id=parcel_id,
                carrier=payload.carrier or "",
                tracking_number=payload.tracking_number,
            )
        except CarrierNotDetected as exc:
            return _not_detected(exc, "carrier")
        return json_response(_leg_data(leg), status=201)

    return idempotent(request, shop=shop, key=idempotency_key, handler=handler)


def _leg_data(leg: ParcelLeg) -> dict[str, Any]:
    return {
        "id": leg.pk,
        "carrier": leg.carrier,
        "tracking_number": leg.tracking_number,
        "role": leg.role,
        "polled": leg.next_poll_at is not None,
        "next_poll_at": _iso(leg.next_poll_at),
        "last_polled_at": _iso(leg.last_polled_at),
        "last_error": leg.last_error,
    }


# --- carrier accounts ---------------------------------------------------------------------


class AccountIn(In):
    carrier: Carrier
    label: Annotated[str, StringConstraints(max_length=100)] = ""
    credentials: dict[
        Annotated[str, StringConstraints(max_length=64)],
        Annotated[str, StringConstraints(max_length=2000)],
    ] = Field(default_factory=dict, max_length=10)
    base_url: Annotated[str, StringConstraints(max_length=300)] = Field(
        "", description="A sandbox URL; empty for the carrier's production API."
    )
    requests_per_minute: int | None = Field(None, ge=1, le=100_000)
    requests_per_day: int | None = Field(
        None, ge=1, le=100_000_000, description="Empty: the carrier's default daily quota."
    )


class AccountOut(Schema):
    id: int
    carrier: str
    label: str
    base_url: str
    requests_per_minute: int | None
    requests_per_day: int | None
    is_active: bool
    credential_names: list[str]
    last_error: str
    last_error_at: str | None


class AccountCreatedOut(AccountOut):
    push_secret: str = Field(description="Shown only now: signs pushes to /tracking/events.")


def _account_data(account: CarrierAccount) -> dict[str, Any]:
    names: list[str] = []
    if account.credentials_encrypted:
        try:
            names = sorted(services.account_config(account).credentials)
        except Exception:
            names = []
    return {
        "id": account.pk,
        "carrier": account.carrier,
        "label": account.label,
        "base_url": account.base_url,
        "requests_per_minute": account.requests_per_minute,
        "requests_per_day": account.requests_per_day,
        "is_active": account.is_active,
        "credential_names": names,
        "last_error": account.last_error,
        "last_error_at": _iso(account.last_error_at),
    }


@router.post(
    "/carrier-accounts",
    response={201: AccountCreatedOut, **_problems(400, 401, 422)},
    summary="Add a carrier account (credentials stored encrypted)",
    operation_id="carrier_account_create",
)
def create_account(request: HttpRequest, payload: AccountIn) -> HttpResponse:
    """The credentials are never shown again; the push secret is shown only in this answer."""
    from suivi.core.http import UnsafeURL, check_public_url

    if payload.base_url:
        try:
            check_public_url(payload.base_url)
        except UnsafeURL as exc:
            return problem_response(
                code="invalid-input",
                status=422,
                detail=f"The base URL is refused: {exc}",
                errors=[{"field": "base_url", "message": str(exc)}],
            )
    account, secret = services.account_create(
        shop=request_shop(request),
        carrier=payload.carrier,
        credentials=payload.credentials,
        label=payload.label,
        base_url=payload.base_url,
        requests_per_minute=payload.requests_per_minute,
        requests_per_day=payload.requests_per_day,
    )
    return json_response({**_account_data(account), "push_secret": secret}, status=201)


@router.get(
    "/carrier-accounts",
    response={200: list[AccountOut], 401: Problem},
    summary="The shop's carrier accounts (without credentials)",
    operation_id="carrier_accounts_list",
)
def list_accounts(request: HttpRequest) -> HttpResponse:
    accounts = CarrierAccount.objects.filter(shop=request_shop(request)).order_by("pk")
    return json_response([_account_data(a) for a in accounts])


@router.delete(
    "/carrier-accounts/{account_id}",
    response={204: None, **_problems(401, 404, 422)},
    summary="Remove a carrier account (its parcels stop being polled)",
    operation_id="carrier_account_delete",
)
def delete_account(request: HttpRequest, account_id: int = AccountId) -> HttpResponse:
    services.account_delete(shop=request_shop(request), account_id=account_id)
    return HttpResponse(status=204)


# --- push ---------------------------------------------------------------------------------


class InvalidSignature(DomainError):
    """A push without a valid signature of an active carrier account."""

    code = "invalid-signature"
    status = 401


class CarrierSignature(APIKeyHeader):
    """``X-Suivi-Signature: t=…,v1=…`` over the body with the account's push secret."""

    param_name = "X-Suivi-Signature"
    openapi_description = (
        "The carrier account's push secret signs the body: send `X-Suivi-Account: <account "
        'id>` and `X-Suivi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw '
        "body>\">`, t within five minutes of the server's clock."
    )

    def authenticate(self, request: HttpRequest, key: str | None) -> CarrierAccount:
        if len(request.body) > MAX_PUSH_BYTES:
            # Said as such (413), not as a signature mismatch the sender would chase.
            raise RequestDataTooBig("push body over MAX_PUSH_BYTES")
        account_id = request.headers.get("X-Suivi-Account", "")
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if key and account_id.isascii() and account_id.isdigit() and len(account_id) <= 18:
            account = (
                CarrierAccount.objects.select_related("shop")
                .filter(pk=int(account_id), is_active=True)
                .first()
            )
            if account is not None and verify_signature(
                services.push_secret(account), key, request.body
            ):
                return account
        # One answer for every failure (which one it was is not told), and not the shop
        # API key's 401: carriers sign, they have no key.
        raise InvalidSignature(
            "Sign the body with an active carrier account's push secret: X-Suivi-Account: "
            "<account id>, X-Suivi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "
            "'<t>.<body>'>, t within five minutes."
        )


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Suivi-Signature`` value a sender puts on *body* (for clients and tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    if not secret:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    stamp = parts.get("t", [""])[0]
    # Unix seconds: ASCII digits, and few of them (a huge integer cannot become a float).
    if not (stamp.isascii() and stamp.isdigit()) or len(stamp) > 12:
        return False
    t = int(stamp)
    if abs((time.time() if now is None else now) - t) > SIGNATURE_TOLERANCE:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses str with non-ASCII characters (a header may have them).
    return any(
        hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
        for given in parts.get("v1", [])
    )


class PushEvent(BaseModel):
    """One event in Suivi's own push format."""

    model_config = ConfigDict(extra="forbid")

    tracking_number: Number
    carrier: Carrier | None = None
    status: Status
    reason: Reason = Reason.NONE
    occurred_at: datetime = Field(description="ISO 8601 with the local UTC offset.")
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    label: Annotated[str, StringConstraints(max_length=500)] = ""
    location: Annotated[str, StringConstraints(max_length=200)] = ""
    country: Annotated[str, StringConstraints(max_length=3)] = ""
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)
    customs: Literal["", "entered", "released", "held"] = ""
    eta: datetime | None = None
    pickup_deadline: datetime | None = None
    relay_point: dict[str, Any] | None = None
    handoff: dict[str, str] | None = Field(
        None, description='{"carrier": …, "tracking_number": …} of the destination carrier.'
    )

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        carrier, number = value.get("carrier", ""), value.get("tracking_number", "")
        if set(value) - {"carrier", "tracking_number"} or not carrier or not number:
            raise ValueError('must be {"carrier": …, "tracking_number": …}')
        if not services.is_known_carrier(carrier):
            raise ValueError(f"unknown carrier {carrier!r}")
        if not 4 <= len(detection.normalise(number)) <= 64:
            raise ValueError("the tracking number has 4 to 64 characters")
        return value

    @field_validator("occurred_at", "eta", "pickup_deadline")
    @classmethod
    def _offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs its UTC offset (e.g. 2026-11-20T09:38:00+01:00)")
        if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
            # Also keeps the instant in UTC representable (year 9999 at -12:00 is not).
            raise ValueError(f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
        return value


class PushIn(In):
    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_ITEMS)


class PushRejected(Schema):
    index: int
    errors: list[dict[str, str]]


class PushOut(Schema):
    received: int
    inserted: int
    duplicates: int
    unknown: list[dict[str, str]]
    rejected: list[PushRejected]
    parcels_changed: int
    orders_moved: int


def _updates(
    account: CarrierAccount, events: list[dict[str, Any]]
) -> tuple[list[tuple[str, ShipmentUpdate]], list[dict[str, Any]]]:
    rejected: list[dict[str, Any]] = []
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    default_carrier = "" if account.carrier == services.OTHER else account.carrier
    for index, raw in enumerate(events):
        try:
            item = PushEvent.model_validate(raw)
        except ValidationError as exc:
            rejected.append(
                {
                    "index": index,
                    "errors": [
                        {
                            "field": ".".join(str(p) for p in e["loc"]),
                            "message": e["msg"].removeprefix("Value error, "),
                        }
                        for e in exc.errors()
                    ],
                }
            )
            continue
        number = detection.normalise(item.tracking_number)
        key = (item.carrier or default_carrier, number)
        entry = grouped.setdefault(key, {"events": [], "extras": {}})
        entry["events"].append(
            TrackingEvent(
                tracking_number=number,
                status=item.status,
                reason=item.reason,
                occurred_at=item.occurred_at,
                raw_code=item.code,
                raw_label=item.label,
                location=item.location,
                country=item.country,
                latitude=item.latitude,
                longitude=item.longitude,
                customs=item.customs,
            )
        )
        extras = entry["extras"]
        for name in ("eta", "pickup_deadline", "relay_point"):
            if getattr(item, name) is not None:
                extras[name] = getattr(item, name)
        if item.handoff and item.handoff.get("tracking_number") and item.handoff.get("carrier"):
            extras["handoff"] = Handoff(
                item.handoff["carrier"][:32],
                detection.normalise(item.handoff["tracking_number"])[:64],
            )
    updates = [
        (
            carrier,
            ShipmentUpdate(
                tracking_number=number,
                events=tuple(entry["events"]),
                estimated_delivery=entry["extras"].get("eta"),
                pickup_deadline=entry["extras"].get("pickup_deadline"),
                relay_point=entry["extras"].get("relay_point"),
                handoff=entry["extras"].get("handoff"),
            ),
        )
        for (carrier, number), entry in grouped.items()
    ]
    return updates, rejected


def _report(report: IngestReport, rejected: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "received": report.received,
        "inserted": report.inserted,
        "duplicates": report.duplicates,
        "unknown": [{"carrier": c, "tracking_number": n} for c, n in report.unknown],
        "rejected": rejected,
        "parcels_changed": report.parcels_changed,
        "orders_moved": report.orders_moved,
    }


@push_router.post(
    "/tracking/events",
    response={200: PushOut, **_problems(400, 401, 413, 422)},
    summary="Push tracking events (Suivi's JSON, HMAC-signed per carrier account)",
    operation_id="tracking_events_push",
    auth=CarrierSignature(),
)
def push_events(request: HttpRequest, payload: PushIn) -> HttpResponse:
    """Up to 1,000 events per call, any order, duplicates welcome (stored once). Invalid
    items are listed in ``rejected`` with the reason and the rest is applied; numbers the
    shop does not follow come back in ``unknown``. 422 when nothing was usable."""
    account: CarrierAccount = request.auth  # type: ignore[attr-defined]
    updates, rejected = _updates(account, payload.events)
    if not updates:
        return problem_response(
            code="invalid-input",
            status=422,
            detail="No event of the batch is valid.",
            errors=[
                {"field": f"events.{r['index']}.{e['field']}", "message": e["message"]}
                for r in rejected
                for e in r["errors"]
            ][:100],
        )
    report = ingest(account.shop, updates, source="push")
    return json_response(_report(report, rejected))


@push_router.post(
    "/tracking/webhooks/{account_id}",
    response={200: PushOut, **_problems(401, 404, 413, 422)},
    summary="A carrier's native webhook (UPS Track Alert, AfterShip…)",
    operation_id="tracking_webhook",
    url_name="tracking_webhook",
    auth=None,
)
def carrier_webhook(request: HttpRequest, account_id: int = AccountId) -> HttpResponse:
    """Checked with the connector's own signature scheme and the account's push secret."""
    account = (
        CarrierAccount.objects.select_related("shop").filter(pk=account_id, is_active=True).first()
    )
    connector = registry.get(account.carrier) if account else None
    if account is None or connector is None or connector.parse_push is None:
        raise NotFound("No such webhook.", account_id=account_id)
    body = request.body
    if len(body) > MAX_PUSH_BYTES:
        raise RequestDataTooBig("webhook body over MAX_PUSH_BYTES")
    headers = {k.lower(): v for k, v in request.headers.items()}
    if connector.verify_push is None or not connector.verify_push(
        body, headers, services.push_secret(account)
    ):
        return problem_response(
            code=InvalidSignature.code, status=401, detail="The webhook's signature does not match."
        )
    results = connector.parse_push(body)
    updates = [(account.carrier, r) for r in results if isinstance(r, ShipmentUpdate)]
    errors = [r for r in results if not isinstance(r, ShipmentUpdate)]
    if not updates:
        return problem_response(
            code="invalid-input",
            status=422,
            detail="The webhook body holds no usable tracking update.",
            errors=[{"field": "body", "message": getattr(e, "message", "")} for e in errors][:20],
        )
    report = ingest(account.shop, updates[:MAX_ITEMS], source="push")
    return json_response(_report(report, []))
