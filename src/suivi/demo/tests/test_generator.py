"""Order plans: reproducible by seed, valid for the lifecycle, covering every status."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from suivi.demo.generator import OpKind, OrderPlan, coverage, generate_plans
from suivi.demo.replay import Numbering, replay
from suivi.demo.specs import DEMO_SHOPS, LIBRAIRIE_DU_MARCHE, MAISON_LUMIERE, ShopSpec
from suivi.orders.lifecycle import TRANSITIONS, Mode, Status
from suivi.shops.models import Shop

NOW = datetime(2025, 3, 14, 15, 0, tzinfo=UTC)


def reachable(mode: Mode) -> set[Status]:
    """Every status an order of *mode* can reach from its first one (read from the table)."""
    seen, todo = {Status.AWAITING_PAYMENT}, [Status.AWAITING_PAYMENT]
    while todo:
        for target in TRANSITIONS[mode].get(todo.pop(), frozenset()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def replayed_status(spec: ShopSpec, plan: OrderPlan) -> tuple[str, bool, str]:
    shop = Shop(pk=1, slug=spec.slug, invoicing_enabled=spec.invoicing)
    locations = {loc.code: index for index, loc in enumerate(spec.locations, 1)}
    rows = replay(plan, shop=shop, phone="", location_ids=locations, numbering=Numbering())
    return rows.order.status, rows.order.is_partially_cancelled, rows.order.exception_reason


@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
def test_the_status_weights_name_every_status_the_mode_can_reach(spec: ShopSpec) -> None:
    assert set(spec.status_weights) == reachable(spec.mode)


@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
def test_the_same_seed_gives_the_same_plans(spec: ShopSpec) -> None:
    first = list(generate_plans(spec, count=60, seed=11, now=NOW))
    again = list(generate_plans(spec, count=60, seed=11, now=NOW))
    other = list(generate_plans(spec, count=60, seed=12, now=NOW))

    assert first == again
    assert first != other


@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
def test_every_plan_ends_in_the_status_it_aims_at(spec: ShopSpec) -> None:
    for plan in generate_plans(spec, count=400, seed=3, now=NOW):
        assert replayed_status(spec, plan)[0] == plan.target, plan.data.reference


@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
def test_the_coverage_block_reaches_every_status_with_cancelled_lines_and_exceptions(
    spec: ShopSpec,
) -> None:
    plans = list(generate_plans(spec, count=len(coverage(spec)), seed=1, now=NOW))
    outcomes = [replayed_status(spec, plan) for plan in plans]

    assert {Status(status) for status, _, _ in outcomes} == reachable(spec.mode)
    assert any(partial for _, partial, _ in outcomes)
    if spec.mode is Mode.DELIVERY:
        assert any(exception for _, _, exception in outcomes)
    kinds = Counter(op.kind for plan in plans for op in plan.ops)
    assert kinds[OpKind.CANCEL] and kinds[OpKind.CANCEL_LINES]


def test_the_default_demo_is_large_enough_for_the_coverage_block() -> None:
    from suivi.demo.loader import DEFAULT_ORDERS, _split

    for spec, count in zip(DEMO_SHOPS, _split(DEFAULT_ORDERS), strict=True):
        assert count >= len(coverage(spec)), spec.slug


@pytest.mark.parametrize("spec", DEMO_SHOPS, ids=lambda s: s.slug)
def test_steps_happen_in_order_after_the_order_is_placed_and_before_now(spec: ShopSpec) -> None:
    for plan in generate_plans(spec, count=300, seed=5, now=NOW):
        times = [plan.data.placed_at, *(op.at for op in plan.ops)]
        assert times == sorted(times)
        assert times[-1] is not None and times[-1] < NOW


def test_delivery_orders_have_an_address_and_click_and_collect_orders_a_store() -> None:
    stores = {loc.code for loc in LIBRAIRIE_DU_MARCHE.locations}
    for plan in generate_plans(MAISON_LUMIERE, count=50, seed=2, now=NOW):
        assert plan.data.shipping_address is not None
        assert plan.data.pickup_location_code is None
        assert plan.data.promised_delivery_date is not None
    used = set()
    for plan in generate_plans(LIBRAIRIE_DU_MARCHE, count=50, seed=2, now=NOW):
        assert plan.data.shipping_address is None
        assert plan.data.pickup_location_code in stores
        used.add(plan.data.pickup_location_code)
    assert used == stores


def test_references_continue_from_the_first_number_and_differ_between_loads() -> None:
    first = list(generate_plans(MAISON_LUMIERE, count=3, seed=1, now=NOW))
    more = list(generate_plans(MAISON_LUMIERE, count=3, seed=1, now=NOW, first_number=4))

    assert [p.data.reference for p in first + more] == [f"ML-{n:06d}" for n in range(1, 7)]
    assert [p.data.lines for p in first] != [p.data.lines for p in more]


def test_customers_come_back_for_several_orders() -> None:
    emails = Counter(
        plan.data.customer.email
        for plan in generate_plans(MAISON_LUMIERE, count=300, seed=9, now=NOW)
    )
    assert max(emails.values()) >= 3
