"""Who may do what in the back office: one table, read by every view.

A right is a name (``area.verb``); the table gives the roles that hold it. Views ask
:func:`suivi.backoffice.access.staff_view` for a right; a member whose role lacks it gets a
readable 403 page, someone who is not a member of the shop gets the same 404 as for a shop
that does not exist.
"""

from __future__ import annotations

from suivi.shops.models import Membership

OWNER = Membership.Role.OWNER.value
LOGISTICS = Membership.Role.LOGISTICS.value
SERVICE = Membership.Role.CUSTOMER_SERVICE.value
EVERYONE = frozenset({OWNER, LOGISTICS, SERVICE})

RIGHTS: dict[str, frozenset[str]] = {
    # Orders
    "orders.view": EVERYONE,
    # Lifecycle steps: payment, routing, preparation, ready, ship, pickup, collected.
    "orders.fulfil": frozenset({OWNER, LOGISTICS}),
    # Cancel a whole order or lines (out of stock at the warehouse, or at the customer's
    # request through customer service).
    "orders.cancel": EVERYONE,
    "orders.resend_message": frozenset({OWNER, SERVICE}),
    # Claims
    "claims.view": frozenset({OWNER, SERVICE, LOGISTICS}),
    "claims.handle": frozenset({OWNER, SERVICE}),
    # Returns: deciding and refunding is customer service's; receiving is the warehouse's.
    "returns.view": EVERYONE,
    "returns.decide": frozenset({OWNER, SERVICE}),
    "returns.receive": EVERYONE,
    "returns.refund": frozenset({OWNER, SERVICE}),
    # Notifications: rules, templates, branding.
    "notifications.view": frozenset({OWNER, SERVICE}),
    "notifications.configure": frozenset({OWNER}),
    "notifications.test": frozenset({OWNER, SERVICE}),
    # Settings
    "settings.view": frozenset({OWNER, LOGISTICS}),
    "settings.locations": frozenset({OWNER, LOGISTICS}),
    "settings.carriers": frozenset({OWNER, LOGISTICS}),
    "settings.api_keys": frozenset({OWNER}),
    "settings.webhooks": frozenset({OWNER}),
    "settings.policies": frozenset({OWNER}),
    # Operations: every problem in one place; retrying a dead message is harmless.
    "operations.view": EVERYONE,
    "operations.retry": EVERYONE,
}


def allowed(role: str, right: str) -> bool:
    """Tell whether *role* holds *right* (an unknown right is a programming error)."""
    return role in RIGHTS[right]
