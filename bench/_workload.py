"""The orders benchmark's workload, shared by the HTTP driver and the in-process baselines so
that both write the same rows. No Django here."""

from __future__ import annotations

import unicodedata
from typing import Any

# The delivery walk of the lifecycle: one request per transition.
ACTIONS = (
    "confirm_payment",
    "start_preparation",
    "mark_ready",
    "ship",
    "mark_in_transit",
    "mark_out_for_delivery",
    "mark_delivered",
)

_CATALOGUE = (
    ("PULL-M", "Pull marin en laine", "49.90"),
    ("BONNET", "Bonnet côtelé", "15.00"),
    ("ECHARPE", "Écharpe en cachemire", "89.00"),
    ("CHAUSS-42", "Chaussettes rayées, taille 42", "9.50"),
    ("TOTE", "Sac cabas en toile", "24.00"),
)
_CITIES = (
    ("69002", "Lyon", "3 place Bellecour"),
    ("75011", "Paris", "18 rue Oberkampf"),
    ("13001", "Marseille", "41 La Canebière"),
    ("33000", "Bordeaux", "7 cours de l'Intendance"),
)
_NAMES = (("Claire", "Martin"), ("Hugo", "Bernard"), ("Léa", "Dubois"), ("Nicolas", "Petit"))


def _ascii(name: str) -> str:
    """Return *name* lower-cased without accents (Léa -> lea), as in most email addresses."""
    return unicodedata.normalize("NFKD", name.lower()).encode("ascii", "ignore").decode()


def order_body(run: str, index: int) -> dict[str, Any]:
    """Return the API body of order *index*: 2 or 3 lines, a delivery address, a new
    customer (every other one with a mobile number), a reference unique in the run."""
    first, last = _NAMES[index % len(_NAMES)]
    postcode, city, line1 = _CITIES[index % len(_CITIES)]
    count = 2 + index % 2
    lines = [
        {
            "sku": _CATALOGUE[(index + k) % len(_CATALOGUE)][0],
            "name": _CATALOGUE[(index + k) % len(_CATALOGUE)][1],
            "unit_price": _CATALOGUE[(index + k) % len(_CATALOGUE)][2],
            "quantity": 1 + (index + k) % 3,
        }
        for k in range(count)
    ]
    customer: dict[str, Any] = {
        "email": f"{_ascii(first)}.{_ascii(last)}.{run.lower()}.{index}@example.fr",
        "first_name": first,
        "last_name": last,
    }
    if index % 2 == 0:
        customer["phone"] = f"061{index % 10_000_000:07d}"
    return {
        "reference": f"{run}-{index:07d}",
        "fulfilment_mode": "delivery",
        "customer": customer,
        "lines": lines,
        "currency": "EUR",
        "shipping_amount": "4.90",
        "shipping_address": {
            "name": f"{first} {last}",
            "line1": line1,
            "postcode": postcode,
            "city": city,
            "country": "FR",
        },
    }
