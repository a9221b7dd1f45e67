from django.contrib import admin

from .models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "shop", "language", "created_at"]
    list_filter = ["shop", "language"]
    search_fields = ["email", "last_name", "phone"]
