"""Property-based test of the whole API from its own OpenAPI document (schemathesis).

A real threaded HTTP server (pytest-django's ``live_server``) serves the app; schemathesis
reads /api/v1/openapi.json from it and sends generated requests, valid and invalid, with a
real shop key. No generated request may get a server error, and every response must match
the status codes, content types and schemas the document declares.

The strategies are driven with Hypothesis directly: schemathesis' pytest integration
(``schemathesis.pytest.from_fixture``) fails under pytest 9 (it writes ``node._nodeid``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from suivi.carriers.vocabulary import Status
from suivi.shipments import services
from suivi.shipments.ingest import ingest
from suivi.shipments.tests.factories import scan, update
from suivi.shops.models import Shop
from suivi.shops.services import IssuedApiKey
from suivi.testing import make_order

# Examples per operation and strategy (documented examples, valid, then invalid data):
# 47 operations x 3-4 strategies x this many requests: about 100 s on a busy 2-core machine.
EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
# Fresh sequences: the orders below get ids 1-6, which the documented example (1) and
# small generated ids then reach.
@pytest.mark.django_db(transaction=True, reset_sequences=True)
def test_no_generated_request_gets_a_server_error_or_breaks_the_schema(
    live_server: Any, shop_a: Shop, shop_b: Shop, key_a: IssuedApiKey
) -> None:
    # Orders in both shops: generated requests reach the key's orders and the other shop's.
    for shop in (shop_a, shop_b, shop_a):
        make_order(shop, paid=True)
        make_order(shop)
    # Tracking: a shipped order of each shop (parcels 1 and 2), a timeline on parcel 1 and
    # a carrier account (1), so that the tracking reads return real parcels and events.
    for shop in (shop_a, shop_b):
        order = make_order(shop, paid=True)
        services.parcels_create(
            shop=shop,
            order_id=order.pk,
            parcels=[services.ParcelInput(tracking_number="6A12345678901", carrier="laposte")],
        )
    when = datetime(2026, 11, 18, 8, tzinfo=timezone(timedelta(hours=1)))
    ingest(
        shop_a,
        [("laposte", update("6A12345678901", scan("6A12345678901", Status.IN_TRANSIT, when)))],
        source="push",
    )
    services.account_create(shop=shop_a, carrier="laposte", credentials={"api_key": "k"})
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {key_a.secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 47  # 11 order operations, 24 notification ones, 12 tracking ones

    for operation in operations:
        # The documented examples first (they reach the success paths), then generated
        # valid and invalid data.
        strategies = [
            *schema.get_strategies_from_examples(operation),
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        ]
        for strategy in strategies:

            @given(case=strategy)
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            check()
