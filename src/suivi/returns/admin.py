"""Operator admin for returns: read-only rows; every change goes through the services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import ReturnLine, ReturnRequest


class ReturnLineInline(admin.TabularInline):
    model = ReturnLine
    extra = 0
    can_delete = False
    fields = ["order_line", "quantity", "reason", "comment"]
    readonly_fields = ["order_line", "quantity", "reason", "comment"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ["pk", "shop", "order", "customer", "status", "refund_amount", "created_at"]
    list_filter = ["shop", "status"]
    search_fields = ["order__reference", "customer__email"]
    date_hierarchy = "created_at"
    list_select_related = ["shop", "order", "customer"]
    inlines = [ReturnLineInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in ReturnRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ReturnRequest | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ReturnRequest | None = None) -> bool:
        return False
