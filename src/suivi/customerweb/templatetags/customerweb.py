"""Template helpers of the customer pages."""

from __future__ import annotations

import re

from django import template

from suivi.shops import branding
from suivi.shops.models import Shop

register = template.Library()
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


@register.filter
def safe_color(value: object, default: str = "#1F4E79") -> str:
    """A shop colour for a CSS variable: ``#RRGGBB`` only, else the default (a merchant's
    setting never reaches the style attribute unchecked)."""
    text = str(value or "")
    return text if _COLOR.match(text) else default


@register.filter
def logo_path(shop: Shop | None) -> str:
    """Where the shop's logo is published, versioned by the file ("" without a logo)."""
    return branding.logo_path(shop) if isinstance(shop, Shop) else ""
