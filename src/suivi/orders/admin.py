"""Operator admin for orders: read-only rows; every change goes through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from suivi.core.errors import DomainError

from . import services
from .lifecycle import Action
from .models import CreditNote, Invoice, Order, OrderEvent, OrderLine


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = [
        "position", "sku", "name", "unit_price", "quantity_ordered",
        "quantity_cancelled", "quantity_shipped", "quantity_collected",
    ]  # fmt: skip


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["occurred_at", "type", "actor", "payload"]


def _action(action: Action, label: str | Promise):  # type: ignore[no-untyped-def]
    def run(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done = 0
        for order in queryset.select_related("shop"):
            try:
                services.order_apply_action(
                    shop=order.shop, order_id=order.pk, action=action,
                    actor=f"admin:{request.user.pk}",
                )  # fmt: skip
                done += 1
            except DomainError as exc:
                modeladmin.message_user(
                    request, f"{order.reference}: {exc.message}", messages.ERROR
                )
        if done:
            modeladmin.message_user(request, _("%(n)d order(s) updated.") % {"n": done})

    run.__name__ = f"action_{action.value}"
    run.short_description = label  # type: ignore[attr-defined]
    return run


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "reference", "shop", "status", "fulfilment_mode", "email", "total_amount",
        "currency", "is_partially_cancelled", "exception_reason", "placed_at",
    ]  # fmt: skip
    list_filter = ["shop", "status", "fulfilment_mode", "is_partially_cancelled"]
    search_fields = ["reference", "email", "customer__last_name"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline, OrderEventInline]
    actions = [
        _action(Action.CONFIRM_PAYMENT, _("Confirm payment")),
        _action(Action.START_PREPARATION, _("Start preparation")),
        _action(Action.MARK_READY, _("Mark ready (à expédier)")),
    ]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    list_display = ["number", "shop", "order", "total_amount", "currency", "issued_at"]
    list_filter = ["shop"]
    search_fields = ["number", "order__reference"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in Invoice._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False


@admin.register(CreditNote)
class CreditNoteAdmin(InvoiceAdmin):
    list_display = ["number", "shop", "order", "invoice", "total_amount", "currency", "issued_at"]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in CreditNote._meta.fields]
