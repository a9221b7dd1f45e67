"""RFC 9457 problem details: every error of the API, one stable ``type`` per error code.

A problem body is ``{"type", "title", "status", "detail", "errors": [{"field", "message"}]}``
served as ``application/problem+json``. Domain errors carry their code and status
(:mod:`suivi.core.errors`, :mod:`suivi.orders.errors`); this module only renders them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from suivi.core.errors import DomainError, NotFound

from .parser import MalformedJSON

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://suivi.dev/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# Titles are fixed per code (RFC 9457: the title does not change between occurrences).
TITLES: Mapping[str, str] = {
    "unauthorized": "Missing or invalid API key",
    "not-found": "Not found",
    "validation-error": "Invalid request",
    "invalid-input": "Invalid input",
    "malformed-json": "Malformed JSON body",
    "payload-too-large": "Request body too large",
    "invalid-cursor": "Invalid cursor",
    "invalid-transition": "Transition not allowed",
    "concurrent-change": "Concurrent change",
    "invalid-quantity": "Invalid quantity",
    "duplicate-reference": "Duplicate order reference",
    "invoicing-not-allowed": "Invoicing not allowed",
    "idempotency-key-reused": "Idempotency key reused",
    "idempotency-key-in-use": "Idempotency key in use",
    "method-not-allowed": "Method not allowed",
    "service-unavailable": "Service temporarily unavailable",
    "internal-error": "Internal server error",
}

# Services name some inputs after their own arguments; the API names them after its fields.
SERVICE_FIELDS: Mapping[str, str] = {"pickup_location_code": "pickup_store"}

# Pydantic's messages for the two most common mistakes, said plainly.
_MESSAGES: Mapping[str, str] = {
    "missing": "This field is required.",
    "extra_forbidden": "Unknown field: it is not part of this request's schema.",
}


class FieldError(Schema):
    """One invalid field: a dotted path into the request (``lines.0.quantity``)."""

    field: str | None = Field(description="Dotted path of the field; null for the whole body.")
    message: str


class Problem(Schema):
    """An RFC 9457 problem."""

    type: str = Field(examples=["https://suivi.dev/problems/invalid-transition"])
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default_factory=list)


def problem_type(code: str) -> str:
    """Return the stable problem type URI of error *code*."""
    return f"{PROBLEM_BASE}{code}"


def problem_body(
    *, code: str, status: int, detail: str, errors: Iterable[Mapping[str, str | None]] = ()
) -> dict[str, Any]:
    """Return the RFC 9457 document of error *code* (also embedded in batch results)."""
    return {
        "type": problem_type(code),
        "title": TITLES.get(code, code.replace("-", " ").capitalize()),
        "status": status,
        "detail": detail,
        "errors": [dict(error) for error in errors],
    }


def problem_response(
    *,
    code: str,
    status: int,
    detail: str,
    errors: Iterable[Mapping[str, str | None]] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Return a problem+json response for error *code*."""
    body = problem_body(code=code, status=status, detail=detail, errors=errors)
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_CONTENT_TYPE
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def domain_problem_body(exc: DomainError, *, prefix: str = "") -> dict[str, Any]:
    """Describe a domain error, naming the offending field (under *prefix*) when known."""
    field = getattr(exc, "field", None) or exc.details.get("field")
    errors = []
    if isinstance(field, str):
        errors.append({"field": prefix + SERVICE_FIELDS.get(field, field), "message": exc.message})
    if isinstance(exc, NotFound):
        # Never echo an id: another shop's order must look exactly like a missing one.
        errors = []
    return problem_body(code=exc.code, status=exc.status, detail=exc.message, errors=errors)


def domain_problem(exc: DomainError) -> HttpResponse:
    """Render a domain error as a problem+json response."""
    body = domain_problem_body(exc)
    return HttpResponse(
        json.dumps(body, ensure_ascii=False), status=exc.status, content_type=PROBLEM_CONTENT_TYPE
    )


def field_path(loc: Sequence[str | int]) -> str | None:
    """Turn a ninja error location into the request's dotted field path.

    Body errors are located ``("body", "<parameter>", ...)``; query, path and header
    errors ``("query", "<name>")``. Return None for an error on the whole body.
    """
    skip = 2 if loc and loc[0] == "body" else 1
    parts = [str(part) for part in loc[skip:]]
    return ".".join(parts) or None


def _message(error: Mapping[str, Any]) -> str:
    message = _MESSAGES.get(str(error.get("type")), str(error.get("msg", "Invalid value.")))
    # Our validators raise ValueError("must ..."); drop pydantic's "Value error, " prefix.
    return message.removeprefix("Value error, ")


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"field": field_path(e.get("loc", ())), "message": _message(e)} for e in exc.errors]
    count = len(errors)
    return problem_response(
        code="validation-error",
        status=422,
        detail=f"The request has {count} invalid field{'s' if count != 1 else ''}.",
        errors=errors,
    )


def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return domain_problem(exc)


def _authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        code="unauthorized",
        status=401,
        detail="Send a valid, unrevoked shop API key as 'Authorization: Bearer <key>'.",
        headers={"WWW-Authenticate": 'Bearer realm="suivi"'},
    )


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, MalformedJSON):
        return problem_response(
            code="malformed-json", status=400, detail=f"The body is not valid JSON: {exc.__cause__}"
        )
    code = "bad-request" if exc.status_code == 400 else f"http-{exc.status_code}"
    return problem_response(code=code, status=exc.status_code, detail=str(exc))


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(code="not-found", status=404, detail="No such resource.")


def _too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(
        code="payload-too-large", status=413, detail="The request body is too large."
    )


def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return _too_big(request, exc)
    return problem_response(code="bad-request", status=400, detail="The request was refused.")


def _database_unavailable(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    # Lock timeouts, deadlocks and lost connections pass: the client may retry the request.
    logger.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
    return problem_response(
        code="service-unavailable",
        status=503,
        detail="The database is busy or unreachable; retry shortly.",
        headers={"Retry-After": "1"},
    )


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(
        code="internal-error", status=500, detail="An unexpected error occurred; it was logged."
    )


def install_problem_handlers(api: NinjaAPI) -> None:
    """Make every error of *api* a problem+json response."""
    handlers: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
        (ValidationError, _validation_error),
        (DomainError, _domain_error),
        (AuthenticationError, _authentication_error),
        (HttpError, _http_error),
        (Http404, _not_found),
        (SuspiciousOperation, _suspicious),
        (OperationalError, _database_unavailable),
        (Exception, _unexpected),
    ]
    for exception, handler in handlers:
        api.add_exception_handler(exception, handler)


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Answer any unknown URL under the API with a problem instead of an HTML page."""
    return _not_found(request, Http404())
