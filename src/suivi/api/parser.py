"""The JSON body parser: strict JSON only, parsed once per request."""

from __future__ import annotations

import json
from typing import Any, NoReturn, cast

from django.http import HttpRequest
from ninja.parser import Parser
from ninja.types import DictStrAny

# Where the parsed body is kept on the request, for the idempotency fingerprint.
PARSED_ATTR = "_suivi_json_body"


class MalformedJSON(ValueError):
    """The body is not strict JSON (RFC 8259)."""


def _reject_constant(name: str) -> NoReturn:
    # Python's json accepts NaN and Infinity; JSON does not, and neither do databases.
    raise MalformedJSON(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        # 1e999 parses as infinity in Python: refuse it like NaN.
        raise MalformedJSON(f"{text} is out of range")
    return value


class JSONParser(Parser):
    """Parse request bodies as strict JSON and remember the result on the request."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        """Return the decoded body; raise :class:`MalformedJSON` when it is not JSON."""
        try:
            data: Any = json.loads(
                request.body, parse_constant=_reject_constant, parse_float=_finite_float
            )
        except MalformedJSON:
            raise
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge integers
            raise MalformedJSON(str(exc)) from None
        setattr(request, PARSED_ATTR, data)
        return cast(DictStrAny, data)


def parsed_body(request: HttpRequest) -> Any:
    """Return the body as parsed by :class:`JSONParser`, or None when there was none."""
    return getattr(request, PARSED_ATTR, None)
