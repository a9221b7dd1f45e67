"""The fold: any permutation and duplication of a parcel's events gives the same status and
the same timeline — in the pure fold and through ingestion in arbitrary batches."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from suivi.carriers.vocabulary import Reason, Status
from suivi.shipments import timeline
from suivi.shipments.ingest import ingest
from suivi.shipments.models import Parcel, TrackingEvent

from .factories import at, number, scan, shipped_order, update

CODES = {
    Status.INFO_RECEIVED: "DR1",
    Status.IN_TRANSIT: "ET1",
    Status.OUT_FOR_DELIVERY: "MD2",
    Status.FAILED_ATTEMPT: "ND1",
    Status.AVAILABLE_FOR_PICKUP: "AG1",
    Status.EXCEPTION: "PB1",
    Status.RETURNING: "RE1",
    Status.DELIVERED: "DI1",
    Status.RETURNED: "DI2",
}

events_strategy = st.lists(
    st.tuples(
        st.sampled_from(sorted(CODES)),
        st.integers(min_value=0, max_value=12),  # hours after a start: ties happen
        st.sampled_from(["", "Lyon", "Paris"]),
    ),
    min_size=1,
    max_size=12,
)


def _scans(n: str, spec: list[tuple[Status, int, str]]):
    start = at(16, 6)
    return [
        scan(
            n,
            status,
            start + timedelta(hours=hours),
            CODES[status],
            reason=Reason.OTHER if status is Status.EXCEPTION else Reason.NONE,
            location=place,
        )
        for status, hours, place in spec
    ]


def _unique(scans):
    return list({(s.raw_code, s.occurred_at, s.location): s for s in scans}.values())


@given(spec=events_strategy, data=st.data())
def test_the_pure_fold_ignores_order_and_duplicates(spec, data) -> None:
    scans = _unique(_scans("6A00000000001", spec))
    reference = timeline.fold(scans)
    shuffled = data.draw(st.permutations(scans))
    assert timeline.fold(shuffled) == reference
    # Folding a prefix then the rest (the incremental path) agrees when allowed.
    ordered = sorted(scans, key=timeline.sort_key)
    cut = data.draw(st.integers(0, len(ordered)))
    head = timeline.fold(ordered[:cut])
    if timeline.can_continue(head, ordered[cut:]):
        assert timeline.fold(ordered[cut:], start=head) == reference


@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=30,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # shrinking a DB example is slow
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=events_strategy, data=st.data())
def test_ingestion_in_any_batches_gives_the_same_status_and_timeline(shop_a, spec, data) -> None:
    n1, n2 = number(), number()
    shipped_order(shop_a, n1)
    shipped_order(shop_a, n2)
    # Reference: everything at once, in time order.
    ingest(shop_a, [("laposte", update(n1, *_scans(n1, spec)))], source="poll")
    # The same events shuffled, duplicated and split into arbitrary batches.
    shuffled = data.draw(st.permutations(_scans(n2, spec)))
    repeats = data.draw(st.lists(st.sampled_from(shuffled), max_size=6))
    stream = shuffled + repeats
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    bounds = [0, *cuts, len(stream)]
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            ingest(shop_a, [("laposte", update(n2, *stream[lo:hi]))], source="push")
    p1 = Parcel.objects.get(tracking_number=n1)
    p2 = Parcel.objects.get(tracking_number=n2)
    fields = ("status", "status_reason", "status_at", "last_event_at", "delivered_at", "customs")
    assert [getattr(p2, f) for f in fields] == [getattr(p1, f) for f in fields]

    def line(parcel):
        return sorted(
            TrackingEvent.objects.filter(parcel=parcel).values_list(
                "occurred_at", "raw_code", "location", "status"
            )
        )

    assert line(p2) == line(p1)
    # The order follows the final parcel state whatever the arrival order — except that a
    # delivered order is terminal: when a delivery scan moved it and a later-arriving,
    # *older* scan makes the carrier's story "returned before that delivery", the order
    # stays delivered (orders never go back from delivered; see docs/carriers.md).
    p1.order.refresh_from_db()
    p2.order.refresh_from_db()
    if p2.order.status != p1.order.status:
        assert p2.order.status == "delivered" and p1.status == "returned"


def test_terminal_and_reversal_rules() -> None:
    n = "6A00000000001"
    delivered = scan(n, Status.DELIVERED, at(19, 11), "DI1")
    assert (
        timeline.fold([delivered, scan(n, Status.IN_TRANSIT, at(20), "ET1")]).status
        is Status.DELIVERED
    )
    assert (
        timeline.fold([delivered, scan(n, Status.RETURNING, at(21), "RE1")]).status
        is Status.RETURNING
    )
    returning = [
        scan(n, Status.RETURNING, at(19), "RE1"),
        scan(n, Status.IN_TRANSIT, at(20), "ET1"),
    ]
    assert timeline.fold(returning).status is Status.RETURNING  # the trip back
    back = timeline.fold([*returning, scan(n, Status.DELIVERED, at(22), "DI1")])
    assert back.status is Status.RETURNED  # delivered on the way back = with the sender
    late_declaration = [
        scan(n, Status.IN_TRANSIT, at(18), "ET1"),
        scan(n, Status.INFO_RECEIVED, at(19), "DR1"),
    ]
    assert timeline.fold(late_declaration).status is Status.IN_TRANSIT
    expired = [
        scan(n, Status.EXPIRED, at(18), "SUIVI-EXP"),
        scan(n, Status.DELIVERED, at(19), "DI1"),
    ]
    assert timeline.fold(expired).status is Status.DELIVERED
