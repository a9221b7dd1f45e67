"""Operator admin for claims: read-only; answers and resolutions go through the services
(the merchant back office), so that the customer is notified and the timeline is kept."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import Claim, ClaimMessage, ClaimPhoto


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ClaimMessageInline(ReadOnlyInline):
    model = ClaimMessage
    fields = ["created_at", "author_kind", "author", "internal", "body"]


class ClaimPhotoInline(ReadOnlyInline):
    model = ClaimPhoto
    # Metadata only: the files are private and served by the customer or back-office views.
    fields = ["created_at", "message", "original_name", "content_type", "size", "width", "height"]


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = [
        "id", "shop", "order", "kind", "status", "resolution", "due_at", "created_at",
    ]  # fmt: skip
    list_filter = ["shop", "status", "kind", "resolution"]
    search_fields = ["order__reference", "customer__email"]
    date_hierarchy = "created_at"
    list_select_related = ["shop", "order"]
    inlines = [ClaimMessageInline, ClaimPhotoInline]

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [f.name for f in Claim._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Claim | None = None) -> bool:
        return False
