"""Operator admin for tracking: read-only views of parcels, carrier accounts (never their
credentials) and each carrier's circuit breaker. Changes go through the services and API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import CarrierAccount, CarrierHealth, Parcel, ParcelLeg, TrackingEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LegInline(admin.TabularInline):
    model = ParcelLeg
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "carrier", "tracking_number", "role", "next_poll_at", "poll_failures", "last_error",
    )  # fmt: skip


class EventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "occurred_at", "utc_offset_minutes", "status", "reason", "raw_code", "raw_label",
        "location", "source",
    )  # fmt: skip
    ordering = ["-occurred_at"]


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyAdmin):
    list_display = [
        "tracking_number",
        "carrier",
        "shop",
        "order",
        "status",
        "status_reason",
        "last_event_at",
        "stalled_at",
    ]
    list_filter = ["status", "carrier"]
    search_fields = ["tracking_number", "order__reference"]
    inlines = [LegInline, EventInline]


@admin.register(CarrierAccount)
class CarrierAccountAdmin(ReadOnlyAdmin):
    list_display = ["shop", "carrier", "label", "is_active", "requests_per_minute", "last_error_at"]
    exclude = ["credentials_encrypted", "push_secret_encrypted"]


@admin.register(CarrierHealth)
class CarrierHealthAdmin(ReadOnlyAdmin):
    list_display = [
        "carrier",
        "consecutive_failures",
        "open_until",
        "last_error_at",
        "last_success_at",
    ]
