"""Random operations on random orders of two shops, against the real services and database.

A Hypothesis state machine creates orders (both modes, both shops, one that invoices), then
applies random actions, whole and partial cancellations with random quantities (often
invalid) and manual invoicing. A plain-Python model predicts each outcome from the
hand-written tables of :mod:`.expected`; after every step the database must match the model
and the invariants must hold. Each example runs inside a savepoint that is rolled back, so
examples share nothing but the two shops.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from suivi.core.errors import DomainError, InvalidInput
from suivi.orders.errors import InvalidQuantity, InvalidTransition, InvoicingError
from suivi.orders.lifecycle import Action, CancellationReason, Mode, Status
from suivi.orders.models import CreditNote, Invoice, Order, OrderEvent, OrderLine
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

from . import expected
from .support import snapshot

# Events that mark a change of the order itself (status or lines), as opposed to documents.
CHANGE_EVENTS = {"order.created", "order.lines_cancelled", "order.released"} | {
    event for table in expected.EVENT_TYPES.values() for event in table.values()
}
DOCUMENT_EVENTS = {"order.invoiced", "order.credit_note_issued"}
MINOR_UNIT = {"EUR": Decimal("0.01"), "JPY": Decimal("1")}
_references = itertools.count(1)


@dataclass
class Line:
    unit_price: Decimal
    ordered: int
    cancelled: int = 0
    shipped: int = 0
    collected: int = 0

    @property
    def remaining(self) -> int:
        return self.ordered - self.cancelled - self.shipped - self.collected


@dataclass
class Model:
    """What the database should say about one order."""

    order_id: int
    shop: Shop
    mode: Mode
    currency: str
    status: Status
    lines: list[Line]
    shipping: Decimal
    version: int = 1
    changes: int = 1  # order.created
    invoiced: bool = False
    credit_notes: int = 0
    history: list[Status] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        if self.status is Status.CANCELLED:
            return Decimal("0")
        return sum(
            (ln.unit_price * (ln.ordered - ln.cancelled) for ln in self.lines), Decimal("0")
        ) + (self.shipping)

    def move(self, status: Status) -> None:
        self.status = status
        self.history.append(status)


lines_strategy = st.lists(
    st.tuples(
        st.decimals(min_value=0, max_value=500, places=3, allow_nan=False, allow_infinity=False),
        st.integers(min_value=1, max_value=4),
    ),
    min_size=1,
    max_size=3,
)
money = st.decimals(min_value=0, max_value=30, places=2, allow_nan=False, allow_infinity=False)


class OrderMachine(RuleBasedStateMachine):
    shops: tuple[Shop, Shop]
    # What the examples did, summed over the run: the test checks it was not vacuous.
    outcomes: Counter[str]

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        # Fresh instances: a rule changes a shop, and the savepoint only rolls back rows.
        self.shops = (
            Shop.objects.get(pk=type(self).shops[0].pk),
            Shop.objects.get(pk=type(self).shops[1].pk),
        )
        self.models: list[Model] = []

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ------------------------------------------------------------------------

    def _expect(
        self, kind: str, model: Model, error: type[DomainError] | None, call: Any
    ) -> Order | Any | None:
        """Run *call*; it must raise *error* and change nothing, or succeed if *error* is None."""
        self.outcomes[f"{kind}:{error.__name__ if error else 'ok'}"] += 1
        before = snapshot(model.order_id)
        if error is None:
            return call()
        try:
            call()
        except DomainError as exc:
            assert type(exc) is error, (exc, error)
        else:
            raise AssertionError(f"expected {error.__name__}")
        assert snapshot(model.order_id) == before
        return None

    def _pick(self, data: st.DataObject) -> Model:
        """Draw an order, more often one that can still move."""
        live = [m for m in self.models if m.status not in expected.TERMINAL[m.mode]]
        return data.draw(st.sampled_from(live * 3 + self.models))

    def _cancel_everything(self, model: Model) -> None:
        for line in model.lines:
            line.cancelled += line.remaining
        model.move(Status.CANCELLED)
        model.version += 1
        model.changes += 1
        if model.invoiced:
            model.credit_notes += 1

    # --- rules --------------------------------------------------------------------------

    @precondition(lambda self: len(self.models) < 4)
    @rule(
        shop_index=st.integers(0, 1),
        mode=st.sampled_from(list(Mode)),
        currency=st.sampled_from(["EUR", "JPY"]),
        lines=lines_strategy,
        shipping=money,
        paid=st.booleans(),
    )
    def create(
        self,
        shop_index: int,
        mode: Mode,
        currency: str,
        lines: list[tuple[Decimal, int]],
        shipping: Decimal,
        paid: bool,
    ) -> None:
        shop = self.shops[shop_index]
        delivery = mode is Mode.DELIVERY
        order = order_create(
            shop=shop,
            data=OrderInput(
                reference=f"P-{next(_references)}",
                customer=CustomerInput(email=f"client{shop_index}@example.fr"),
                fulfilment_mode=mode,
                lines=[LineInput(f"SKU{i}", "Article", p, q) for i, (p, q) in enumerate(lines)],
                currency=currency,
                shipping_amount=shipping if delivery else Decimal("0"),
                shipping_address=AddressInput("Claire", "1 rue", "69002", "Lyon")
                if delivery
                else None,
                pickup_location_code=None if delivery else "boutique",
                paid=paid,
            ),
        )
        unit = MINOR_UNIT[currency]
        model = Model(
            order_id=order.pk,
            shop=shop,
            mode=mode,
            currency=currency,
            status=Status.AWAITING_PAYMENT,
            lines=[Line(p.quantize(unit, ROUND_HALF_UP), q) for p, q in lines],
            shipping=(shipping if delivery else Decimal("0")).quantize(unit, ROUND_HALF_UP),
            history=[Status.AWAITING_PAYMENT],
        )
        if paid:
            model.move(Status.TO_PREPARE)
            model.version += 1
            model.changes += 1
            model.invoiced = shop.invoicing_enabled
        self.models.append(model)
        self.outcomes[f"create:{mode}"] += 1

    @precondition(lambda self: self.models)
    @rule(data=st.data(), steps=st.integers(1, 4))
    def apply_actions(self, data: st.DataObject, steps: int) -> None:
        model = self._pick(data)
        every = [a for a in Action if a is not Action.CANCEL]
        for _ in range(steps):
            # Mostly an action the tables allow now (so orders travel far), else any action.
            fitting = [a for a in every if expected.action_allowed(model.mode, model.status, a)]
            action = data.draw(st.sampled_from(fitting * 4 + every))
            self._apply(model, action)

    def _apply(self, model: Model, action: Action) -> None:
        allowed = expected.action_allowed(model.mode, model.status, action)
        self._expect(
            "action",
            model,
            None if allowed else InvalidTransition,
            lambda: order_apply_action(
                shop=model.shop, order_id=model.order_id, action=action, actor="hypothesis"
            ),
        )
        if not allowed:
            return
        model.move(expected.ACTION_TARGETS[model.mode][action])
        self.outcomes[f"reached:{model.status}"] += 1
        model.version += 1
        model.changes += 1
        if action is Action.SHIP:
            for line in model.lines:
                line.shipped += line.remaining
        if action is Action.MARK_COLLECTED:
            for line in model.lines:
                line.collected += line.remaining
        if action is Action.CONFIRM_PAYMENT and model.shop.invoicing_enabled:
            model.invoiced = True

    @precondition(lambda self: not self.shops[1].invoicing_enabled)
    @rule()
    def shop_b_starts_invoicing(self) -> None:
        # Orders it was paid for before stay uninvoiced until invoiced by hand.
        shop = self.shops[1]
        shop.invoicing_enabled = True
        shop.save(update_fields=["invoicing_enabled"])

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        model = self._pick(data)
        if data.draw(st.sampled_from(["lines", "lines", "lines", "whole"])) == "whole":
            self._cancel_order(model)
            return
        count = len(model.lines)
        most = max(line.remaining for line in model.lines)
        # Mostly plausible requests (known positions, quantities around what is left), some
        # anything: unknown positions, duplicates, zero or negative quantities, nothing.
        plausible = st.lists(
            st.tuples(st.integers(1, count), st.integers(0, most + 1)),
            min_size=1,
            max_size=count,
            unique_by=lambda item: item[0],
        )
        anything = st.lists(st.tuples(st.integers(0, count + 1), st.integers(-1, 5)), max_size=3)
        items = data.draw(st.one_of(plausible, plausible, anything))
        # Predict in the order the service checks.
        positions = [position for position, _ in items]
        error: type[DomainError] | None = None
        if not items or len(set(positions)) != len(positions):
            error = InvalidInput
        elif model.status not in expected.CANCELLABLE[model.mode]:
            error = InvalidTransition
        else:
            for position, quantity in items:
                if not 1 <= position <= len(model.lines):
                    error = InvalidInput
                    break
                if not 1 <= quantity <= model.lines[position - 1].remaining:
                    error = InvalidQuantity
                    break
        self._expect(
            "cancel_lines",
            model,
            error,
            lambda: order_cancel_lines(
                shop=model.shop,
                order_id=model.order_id,
                cancellations=[LineCancellation(p, q) for p, q in items],
                reason=CancellationReason.SOLD_IN_STORE,
            ),
        )
        if error is not None:
            return
        if sum(q for _, q in items) == sum(line.remaining for line in model.lines):
            self._cancel_everything(model)
            return
        for position, quantity in items:
            model.lines[position - 1].cancelled += quantity
        model.version += 1
        model.changes += 1
        if model.invoiced:
            model.credit_notes += 1

    @precondition(lambda self: self.models)
    @rule(data=st.data())
    def invoice(self, data: st.DataObject) -> None:
        # More often an order paid but not invoiced (shop B before it started invoicing).
        unbilled = [
            m
            for m in self.models
            if not m.invoiced and m.status not in (Status.AWAITING_PAYMENT, Status.CANCELLED)
        ]
        model = data.draw(st.sampled_from(unbilled * 3 + self.models))
        allowed = (
            model.shop.invoicing_enabled
            and model.status not in (Status.AWAITING_PAYMENT, Status.CANCELLED)
            and not model.invoiced
        )
        self._expect(
            "invoice",
            model,
            None if allowed else InvoicingError,
            lambda: order_invoice(shop=model.shop, order_id=model.order_id),
        )
        if allowed:
            model.invoiced = True
            model.version += 1

    def _cancel_order(self, model: Model) -> None:
        allowed = model.status in expected.CANCELLABLE[model.mode]
        self._expect(
            "cancel_order",
            model,
            None if allowed else InvalidTransition,
            lambda: order_cancel(
                shop=model.shop,
                order_id=model.order_id,
                reason=CancellationReason.OUT_OF_STOCK,
            ),
        )
        if allowed:
            self._cancel_everything(model)

    # --- invariants (bulk queries: they run after every step) ---------------------------

    @invariant()
    def every_order_matches_its_model(self) -> None:
        ids = [model.order_id for model in self.models]
        orders = Order.objects.in_bulk(ids)
        lines: dict[int, list[Line]] = defaultdict(list)
        for row in OrderLine.objects.filter(order_id__in=ids).order_by("order_id", "position"):
            assert (
                row.quantity_cancelled + row.quantity_shipped + row.quantity_collected
                <= row.quantity_ordered
            )
            lines[row.order_id].append(
                Line(
                    row.unit_price,
                    row.quantity_ordered,
                    row.quantity_cancelled,
                    row.quantity_shipped,
                    row.quantity_collected,
                )
            )
        event_types: dict[int, list[str]] = defaultdict(list)
        for order_id, type_ in OrderEvent.objects.filter(order_id__in=ids).values_list(
            "order_id", "type"
        ):
            event_types[order_id].append(type_)
        invoices = {
            invoice.order_id: invoice for invoice in Invoice.objects.filter(order_id__in=ids)
        }
        credited: dict[int, list[Decimal]] = defaultdict(list)
        for order_id, amount in CreditNote.objects.filter(order_id__in=ids).values_list(
            "order_id", "total_amount"
        ):
            credited[order_id].append(amount)

        for model in self.models:
            order = orders[model.order_id]
            assert order.shop_id == model.shop.pk
            # the status is the predicted one, a status of the mode, and once terminal stays
            assert order.status == model.status
            assert order.status in expected.STATUSES[model.mode]
            ended = [s for s in model.history if s in expected.TERMINAL[model.mode]]
            assert not ended or model.history[-1] == ended[0]
            # one version per successful change
            assert order.version == model.version
            # quantities, and totals = sum of unit price x (ordered - cancelled) + shipping
            assert lines[order.pk] == model.lines
            active = sum(
                (ln.unit_price * (ln.ordered - ln.cancelled) for ln in lines[order.pk]),
                Decimal("0"),
            )
            shipping = Decimal("0") if order.status == Status.CANCELLED else model.shipping
            assert order.shipping_amount == shipping
            assert order.lines_amount == active
            assert order.total_amount == active + shipping == model.total
            assert order.total_amount >= 0
            # one event per successful change, plus one per document
            types = event_types[order.pk]
            assert set(types) <= CHANGE_EVENTS | DOCUMENT_EVENTS, types
            assert sum(t in CHANGE_EVENTS for t in types) == model.changes, types
            assert types.count("order.invoiced") == int(model.invoiced)
            assert types.count("order.credit_note_issued") == model.credit_notes
            # invoice - credit notes = what the customer owes now
            assert (order.pk in invoices) == model.invoiced
            assert len(credited[order.pk]) == model.credit_notes
            if model.invoiced:
                assert invoices[order.pk].total_amount - sum(credited[order.pk]) == model.total

    @invariant()
    def document_numbers_have_no_gaps_in_either_shop(self) -> None:
        for document in (Invoice, CreditNote):
            numbers: dict[int, list[int]] = defaultdict(list)
            for shop_id, number in document.objects.filter(shop__in=self.shops).values_list(
                "shop_id", "sequence_number"
            ):
                numbers[shop_id].append(number)
            for shop_numbers in numbers.values():
                assert sorted(shop_numbers) == list(range(1, len(shop_numbers) + 1))


def test_random_operations_keep_every_order_consistent(shop_a: Shop, shop_b: Shop) -> None:
    # given two shops, A invoicing and B not; each example rolls back to this point
    outcomes: Counter[str] = Counter()
    machine = type("Machine", (OrderMachine,), {"shops": (shop_a, shop_b), "outcomes": outcomes})
    # when/then: Hypothesis drives the machine and checks the invariants after every step
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=50,
            # Deterministic in CI: the coverage check below must not flake; run with
            # --hypothesis-seed or a larger budget locally to explore further.
            derandomize=True,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    # and the run tried each kind of operation, both ways, and reached every end
    for seen in (
        "create:delivery",
        "create:click_and_collect",
        "action:ok",
        "action:InvalidTransition",
        "cancel_order:ok",
        "cancel_order:InvalidTransition",
        "cancel_lines:ok",
        "cancel_lines:InvalidInput",
        "cancel_lines:InvalidQuantity",
        "cancel_lines:InvalidTransition",
        # No "invoice:ok": with invoicing on, payment itself issues the invoice, so an
        # explicit order_invoice can only be refused here (its success is covered in
        # test_cancellation_and_invoices.py).
        "invoice:InvoicingError",
        "reached:delivered",
        "reached:collected",
    ):
        assert outcomes[seen], (seen, sorted(outcomes.items()))
