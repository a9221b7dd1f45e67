"""The lifecycle module against the hand-written tables of :mod:`.expected` (no database)."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from suivi.orders import lifecycle
from suivi.orders.lifecycle import Action, Mode, Status, Step

from . import expected

MODES = list(Mode)


def _reachable(mode: Mode, start: Status) -> set[Status]:
    """Return the statuses reachable from *start* by the module's table (start included)."""
    seen = {start}
    queue = deque([start])
    while queue:
        for target in lifecycle.allowed_targets(mode, queue.popleft()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_every_pair_of_statuses_is_allowed_or_denied_as_the_product_says(mode: Mode) -> None:
    # given every (from, to) pair, 14 x 14 per mode
    wrong = []
    for source in Status:
        for target in Status:
            want = target in expected.TRANSITIONS[mode].get(source, set())
            # when
            got = lifecycle.can_transition(mode, source, target)
            if got != want:
                wrong.append(f"{source} -> {target}: expected {want}, module says {got}")
    # then
    assert wrong == []


@pytest.mark.parametrize("mode", MODES)
def test_every_status_of_a_mode_is_reachable_from_awaiting_payment(mode: Mode) -> None:
    assert _reachable(mode, Status.AWAITING_PAYMENT) == expected.STATUSES[mode]


@pytest.mark.parametrize("mode", MODES)
def test_every_reachable_status_can_still_reach_an_end(mode: Mode) -> None:
    for status in expected.STATUSES[mode]:
        assert _reachable(mode, status) & expected.TERMINAL[mode], status


@pytest.mark.parametrize("mode", MODES)
def test_terminal_statuses_have_no_exits_and_only_they_do(mode: Mode) -> None:
    for status in expected.STATUSES[mode]:
        exits = lifecycle.allowed_targets(mode, status)
        assert (not exits) == (status in expected.TERMINAL[mode]), status
        assert (not exits) == lifecycle.info(status).terminal, status


def test_no_status_leads_back_to_awaiting_payment() -> None:
    for mode in MODES:
        for status in Status:
            assert not lifecycle.can_transition(mode, status, Status.AWAITING_PAYMENT)


@pytest.mark.parametrize("mode", MODES)
def test_every_action_leads_to_a_status_of_its_mode(mode: Mode) -> None:
    for action in Action:
        target = lifecycle.action_target(action, mode)
        assert target == expected.ACTION_TARGETS[mode].get(action), action
        if target is not None:
            assert target in expected.STATUSES[mode], action


@pytest.mark.parametrize("mode", MODES)
def test_every_status_but_awaiting_payment_is_entered_by_some_action(mode: Mode) -> None:
    targets = {lifecycle.action_target(action, mode) for action in Action}
    assert expected.STATUSES[mode] - {Status.AWAITING_PAYMENT} <= targets


@pytest.mark.parametrize("mode", MODES)
def test_available_actions_are_exactly_those_the_product_allows(mode: Mode) -> None:
    for status in Status:
        want = [action for action in Action if expected.action_allowed(mode, status, action)]
        assert lifecycle.available_actions(mode, status) == want, status


def test_release_is_not_a_second_way_to_confirm_a_payment() -> None:
    for mode in MODES:
        assert Action.RELEASE not in lifecycle.available_actions(mode, Status.AWAITING_PAYMENT)
        assert Action.CONFIRM_PAYMENT in lifecycle.available_actions(mode, Status.AWAITING_PAYMENT)
        assert Action.RELEASE in lifecycle.available_actions(mode, Status.AWAITING_STOCK)


@pytest.mark.parametrize("mode", MODES)
def test_cancellable_statuses_are_those_the_table_lets_cancel(mode: Mode) -> None:
    by_table = {
        status
        for status in expected.STATUSES[mode]
        if lifecycle.can_transition(mode, status, Status.CANCELLED)
    }
    assert by_table == expected.CANCELLABLE[mode]
    assert lifecycle.CANCELLABLE & expected.STATUSES[mode] == expected.CANCELLABLE[mode]


def test_nothing_after_shipping_or_collection_can_be_cancelled() -> None:
    after = {
        Status.SHIPPED,
        Status.IN_TRANSIT,
        Status.OUT_FOR_DELIVERY,
        Status.AVAILABLE_FOR_PICKUP,
        Status.DELIVERED,
        Status.COLLECTED,
        Status.CANCELLED,
    }
    assert not after & lifecycle.CANCELLABLE


@pytest.mark.parametrize("mode", MODES)
def test_every_action_records_its_dotted_event_type(mode: Mode) -> None:
    for action, target in expected.ACTION_TARGETS[mode].items():
        event_type = lifecycle.event_type(action, target)
        assert event_type == expected.EVENT_TYPES[mode][action]
        assert re.fullmatch(r"order\.[a-z_]+", event_type)


def test_every_status_has_an_event_type() -> None:
    assert set(lifecycle.EVENT_TYPES) == set(Status)
    assert len(set(lifecycle.EVENT_TYPES.values())) == len(Status)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_status_has_a_merchant_and_a_customer_label_in_each_language(
    language: str,
) -> None:
    with translation.override(language):
        for status in Status:
            info = lifecycle.info(status)
            assert str(info.label).strip(), status
            assert str(info.customer_label).strip(), status
        for step in Step:
            assert str(lifecycle.STEP_LABELS[step]).strip(), step
        for reason in lifecycle.CancellationReason:
            assert str(lifecycle.CANCELLATION_LABELS[reason]).strip(), reason


FRENCH_CATALOGUE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"


@pytest.mark.xfail(
    not FRENCH_CATALOGUE.exists(),
    reason="no French catalogue yet (src/suivi/locale/fr/LC_MESSAGES/django.po)",
    strict=True,
)
def test_the_labels_are_translated_into_french() -> None:
    # given the French catalogue (src/suivi/locale/fr)
    untranslated = []
    for status in Status:
        info = lifecycle.info(status)
        with translation.override("en"):
            english = str(info.label), str(info.customer_label)
        with translation.override("fr"):
            french = str(info.label), str(info.customer_label)
        # then every label reads differently in French
        untranslated += [en for en, fr in zip(english, french, strict=True) if en == fr]
    assert untranslated == []


def test_every_status_belongs_to_the_public_step_the_product_says() -> None:
    for status in Status:
        info = lifecycle.info(status)
        assert (info.step, info.internal) == expected.STEPS[status], status


@pytest.mark.parametrize("mode", MODES)
def test_every_status_of_a_mode_shows_a_step_of_its_progress_bar(mode: Mode) -> None:
    shown = set(lifecycle.public_steps(mode)) | set(
        lifecycle.public_steps(mode, via_pickup_point=True)
    )
    for status in expected.STATUSES[mode] - {Status.CANCELLED}:
        assert lifecycle.info(status).step in shown, status


@pytest.mark.parametrize("mode", MODES)
def test_the_progress_bar_of_each_mode_is_in_order(mode: Mode) -> None:
    assert list(lifecycle.public_steps(mode)) == expected.PUBLIC_STEPS[mode]


HAPPY_PATHS = {
    Mode.DELIVERY: [
        Action.CONFIRM_PAYMENT,
        Action.START_PREPARATION,
        Action.MARK_READY,
        Action.SHIP,
        Action.MARK_IN_TRANSIT,
        Action.MARK_OUT_FOR_DELIVERY,
        Action.MARK_DELIVERED,
    ],
    Mode.CLICK_AND_COLLECT: [
        Action.CONFIRM_PAYMENT,
        Action.START_PREPARATION,
        Action.MARK_READY,
        Action.MARK_COLLECTED,
    ],
}


@pytest.mark.parametrize("mode", MODES)
def test_the_happy_path_walks_the_progress_bar_forwards_to_its_end(mode: Mode) -> None:
    steps = list(lifecycle.public_steps(mode))
    happy = HAPPY_PATHS[mode]
    status = Status.AWAITING_PAYMENT
    position = steps.index(lifecycle.info(status).step)
    for action in happy:
        status = expected.ACTION_TARGETS[mode][action]
        new_position = steps.index(lifecycle.info(status).step)
        assert new_position >= position, (action, status)
        position = new_position
    assert position == len(steps) - 1


def test_a_relay_point_delivery_shows_the_pickup_point_instead_of_out_for_delivery() -> None:
    steps = lifecycle.public_steps(Mode.DELIVERY, via_pickup_point=True)
    assert Step.AVAILABLE_FOR_PICKUP in steps
    assert Step.OUT_FOR_DELIVERY not in steps
    assert steps.index(Step.AVAILABLE_FOR_PICKUP) == steps.index(Step.IN_TRANSIT) + 1
    # Click & Collect has no relay point variant
    assert lifecycle.public_steps(
        Mode.CLICK_AND_COLLECT, via_pickup_point=True
    ) == lifecycle.public_steps(Mode.CLICK_AND_COLLECT)


@pytest.mark.parametrize("mode", MODES)
def test_the_mermaid_diagram_draws_exactly_the_table(mode: Mode) -> None:
    diagram = lifecycle.mermaid_diagram(mode)
    edges = set(re.findall(r"^    (\w+) --> (\w+)$", diagram, flags=re.MULTILINE))
    want = {
        (source.value, target.value)
        for source, targets in expected.TRANSITIONS[mode].items()
        for target in targets
    }
    assert edges == want
    ends = set(re.findall(r"^    (\w+) --> \[\*\]$", diagram, flags=re.MULTILINE))
    assert ends == {status.value for status in expected.TERMINAL[mode]}
    assert diagram.startswith("stateDiagram-v2\n    [*] --> awaiting_payment\n")
