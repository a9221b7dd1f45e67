"""The two demo shops: who works there, where they are and what they sell."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from suivi.orders.lifecycle import Mode, Status
from suivi.shops.models import Location, Membership

from .data import BOOKSHOP, HOME_GOODS, Product

Hours = dict[str, list[list[str]]]


@dataclass(frozen=True)
class LocationSpec:
    """A store or warehouse of a demo shop."""

    kind: str
    code: str
    name: str
    address_line1: str
    postcode: str
    city: str
    opening_hours: Hours


@dataclass(frozen=True)
class StaffSpec:
    """A demo back-office login."""

    email: str
    role: str


@dataclass(frozen=True)
class ShopSpec:
    """Everything the generator and the loader need to know about one demo shop."""

    name: str
    slug: str
    legal_name: str
    mode: Mode
    invoicing: bool
    reference_prefix: str
    catalogue: tuple[Product, ...]
    locations: tuple[LocationSpec, ...]
    staff: tuple[StaffSpec, ...]
    # Relative frequency of each final status among generated orders.
    status_weights: dict[Status, int]
    shipping_fees: tuple[Decimal, ...] = ()
    free_shipping_from: Decimal | None = None
    primary_color: str = "#1F4E79"
    accent_color: str = "#F2A900"
    # Share of all demo orders that go to this shop.
    share: int = 1

    def staff_with_role(self, role: str) -> str:
        """Return the email of the staff member with *role* (the actor of their actions)."""
        return next(member.email for member in self.staff if member.role == role)


S = Status
Role = Membership.Role

MAISON_LUMIERE = ShopSpec(
    name="Maison Lumière",
    slug="maison-lumiere",
    legal_name="Maison Lumière SAS",
    mode=Mode.DELIVERY,
    invoicing=True,
    reference_prefix="ML-",
    catalogue=HOME_GOODS,
    locations=(
        LocationSpec(
            kind=Location.Kind.WAREHOUSE,
            code="entrepot-saint-priest",
            name="Entrepôt de Saint-Priest",
            address_line1="27 rue du Progrès",
            postcode="69800",
            city="Saint-Priest",
            opening_hours={
                day: [["07:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
            },
        ),
    ),
    staff=(
        StaffSpec("camille.roux@maison-lumiere.example", Role.OWNER),
        StaffSpec("julien.marchand@maison-lumiere.example", Role.LOGISTICS),
        StaffSpec("ines.haddad@maison-lumiere.example", Role.CUSTOMER_SERVICE),
    ),
    status_weights={
        S.AWAITING_PAYMENT: 4,
        S.AWAITING_STOCK: 3,
        S.ROUTED: 2,
        S.TO_PREPARE: 6,
        S.IN_PREPARATION: 5,
        S.READY_TO_SHIP: 5,
        S.SHIPPED: 5,
        S.IN_TRANSIT: 8,
        S.OUT_FOR_DELIVERY: 4,
        S.AVAILABLE_FOR_PICKUP: 3,
        S.DELIVERED: 48,
        S.CANCELLED: 7,
    },
    shipping_fees=(Decimal("4.90"), Decimal("6.90")),  # relay point, home delivery
    free_shipping_from=Decimal("100.00"),
    primary_color="#3D2C1E",
    accent_color="#E0A458",
    share=3,
)

_MARKET_SUNDAY: Hours = {
    "mon": [],
    "tue": [["09:30", "12:30"], ["14:00", "19:00"]],
    "wed": [["09:30", "12:30"], ["14:00", "19:00"]],
    "thu": [["09:30", "12:30"], ["14:00", "19:00"]],
    "fri": [["09:30", "12:30"], ["14:00", "19:00"]],
    "sat": [["09:00", "19:00"]],
    "sun": [["09:00", "13:00"]],
}
_CITY_CENTRE: Hours = {
    "mon": [["14:00", "19:00"]],
    **{day: [["10:00", "19:00"]] for day in ("tue", "wed", "thu", "fri", "sat")},
    "sun": [],
}

LIBRAIRIE_DU_MARCHE = ShopSpec(
    name="Librairie du Marché",
    slug="librairie-du-marche",
    legal_name="Librairie du Marché SARL",
    mode=Mode.CLICK_AND_COLLECT,
    invoicing=False,
    reference_prefix="LDM-",
    catalogue=BOOKSHOP,
    locations=(
        LocationSpec(
            kind=Location.Kind.STORE,
            code="talensac",
            name="Librairie du Marché — Talensac",
            address_line1="14 rue Talensac",
            postcode="44000",
            city="Nantes",
            opening_hours=_MARKET_SUNDAY,
        ),
        LocationSpec(
            kind=Location.Kind.STORE,
            code="bouffay",
            name="Librairie du Marché — Bouffay",
            address_line1="3 place du Bouffay",
            postcode="44000",
            city="Nantes",
            opening_hours=_CITY_CENTRE,
        ),
    ),
    staff=(
        StaffSpec("helene.berger@librairie-du-marche.example", Role.OWNER),
        StaffSpec("yann.le-goff@librairie-du-marche.example", Role.LOGISTICS),
        StaffSpec("sophie.nguyen@librairie-du-marche.example", Role.CUSTOMER_SERVICE),
    ),
    status_weights={
        S.AWAITING_PAYMENT: 5,
        S.AWAITING_STOCK: 4,
        S.ROUTED: 2,
        S.TO_PREPARE: 8,
        S.IN_PREPARATION: 8,
        S.READY_FOR_PICKUP: 13,
        S.COLLECTED: 52,
        S.CANCELLED: 8,
    },
    primary_color="#2F5D50",
    accent_color="#D96C3B",
    share=2,
)

DEMO_SHOPS: tuple[ShopSpec, ...] = (MAISON_LUMIERE, LIBRAIRIE_DU_MARCHE)

# The platform operator: a Django superuser for /admin/.
OPERATOR_EMAIL = "admin@suivi.example"


# A customer with an account (verified email) and orders in every demo shop.
CUSTOMER_EMAIL = "camille.durand@example.com"


def demo_emails() -> list[str]:
    """Return the logins the demo creates (the operator first, the customer last)."""
    staff = [member.email for spec in DEMO_SHOPS for member in spec.staff]
    return [OPERATOR_EMAIL, *staff, CUSTOMER_EMAIL]
