"""The public tracking page: what it shows, what it never shows without proof, lookups."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from suivi.carriers.vocabulary import Reason, Status
from suivi.notifications import links
from suivi.orders.models import Order

from .support import NEW_YORK, PERSONAL, RELAY, customer_user, event, push, shipped_order


@pytest.fixture(autouse=True)
def _clear_rate_limits(db: None) -> None:
    cache.clear()


def page(client: Client, order: Order, **params: str) -> str:
    response = client.get(f"/t/{links.tracking_token(order.pk)}", params)
    assert response.status_code == 200
    return response.content.decode()


def assert_no_personal_data(html: str, order: Order) -> None:
    for value in (*PERSONAL.values(), order.email, order.phone, order.ship_line1,
                  order.ship_postcode, "+33 6 12", "99,80", "99.80"):  # fmt: skip
        assert value and value not in html, f"{value!r} is on the page without proof"


def test_the_page_shows_progress_parcels_and_carrier_events_in_local_time(shop_a) -> None:
    order = shipped_order(shop_a)
    number = "6A12345678901"
    push(shop_a, number, [event(number, Status.IN_TRANSIT, 2, "Arrived at JFK", "New York",
                                tz=NEW_YORK)])  # fmt: skip
    html = page(Client(), order, **{})
    assert order.reference in html
    assert "Colissimo" in html and number in html
    assert "Votre colis a été déposé." in html and "Chilly-Mazarin" in html
    # New York's scan keeps New York's clock (UTC-5 or -4), not Paris's.
    new_york = next(e for e in order.parcels.get().events.all() if e.location == "New York")
    assert new_york.local_time.strftime("%H:%M") in html
    assert re.search(r'class="done[^"]*"[^>]*>\s*(Expédiée|Shipped)', html)
    assert 'aria-current="step"' in html


def test_without_proof_the_page_and_its_json_hold_no_personal_data(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    html = page(client, order)
    assert_no_personal_data(html, order)
    body = client.get(f"/t/{links.tracking_token(order.pk)}.json").content.decode()
    assert_no_personal_data(body, order)
    assert '"owner"' not in body


def test_a_lookup_by_email_proves_ownership_and_shows_the_items(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    response = client.post(
        "/track/", {"reference": order.reference.lower(), "contact": order.email.upper()}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/t/{links.tracking_token(order.pk)}"
    html = client.get(response["Location"]).content.decode()
    assert PERSONAL["line"] in html and PERSONAL["street"] in html
    # Another browser with the same link sees the public page only.
    assert_no_personal_data(page(Client(), order), order)


def test_a_lookup_by_postcode_opens_the_public_page_only(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    response = client.post("/track/", {"reference": order.reference, "contact": "69 002"})
    assert response.status_code == 302
    assert_no_personal_data(client.get(response["Location"]).content.decode(), order)


def test_a_wrong_email_and_an_unknown_order_get_the_same_answer(shop_a) -> None:
    order = shipped_order(shop_a)
    wrong = Client().post("/track/", {"reference": order.reference, "contact": "x@example.org"})
    unknown = Client().post("/track/", {"reference": "NOPE-1", "contact": order.email})
    assert wrong.status_code == unknown.status_code == 400

    def message(r):
        return re.search(r'role="alert">(.*?)</div>', r.content.decode(), re.S).group(1)

    assert message(wrong) == message(unknown)
    assert "We could not find" in message(wrong) or "Nous n" in message(wrong)


def test_lookups_are_rate_limited_per_address_even_with_the_right_details(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(5):
        r = client.post("/track/", {"reference": f"GUESS-{i}", "contact": "a@example.org"})
        assert r.status_code == 400
    blocked = client.post("/track/", {"reference": order.reference, "contact": order.email})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    # Another address is not blocked.
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert (
        other.post("/track/", {"reference": order.reference, "contact": order.email}).status_code
        == 302
    )


def test_lookups_are_rate_limited_per_order_number(shop_a) -> None:
    order = shipped_order(shop_a)
    for i in range(10):
        Client(REMOTE_ADDR=f"198.51.100.{i}").post(
            "/track/", {"reference": order.reference, "contact": f"guess{i}@example.org"}
        )
    r = Client(REMOTE_ADDR="198.51.100.99").post(
        "/track/", {"reference": order.reference, "contact": order.email}
    )
    assert r.status_code == 429


def test_the_lookup_form_needs_its_csrf_token(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client(enforce_csrf_checks=True)
    r = client.post("/track/", {"reference": order.reference, "contact": order.email})
    assert r.status_code == 403


def test_a_forged_or_unknown_token_is_not_found(shop_a) -> None:
    order = shipped_order(shop_a)
    token = links.tracking_token(order.pk)
    ident, _mac = token.split(".")
    assert Client().get(f"/t/{ident}.{'A' * 16}").status_code == 404
    assert Client().get(f"/t/{token}x").status_code == 404
    assert Client().get(f"/t/{links.tracking_token(10**9)}").status_code == 404


def test_the_signed_in_owner_sees_their_items_and_another_customer_does_not(shop_a) -> None:
    order = shipped_order(shop_a)
    owner, stranger = Client(), Client()
    owner.force_login(customer_user(order))
    other = shipped_order(shop_a, email="someone.else@example.org", number="6A12345678902")
    stranger.force_login(customer_user(other))
    assert PERSONAL["line"] in page(owner, order)
    assert_no_personal_data(page(stranger, order), order)


def test_relay_point_deadline_and_problem_guidance(shop_a) -> None:
    order = shipped_order(shop_a)
    number = "6A12345678901"
    push(shop_a, number, [event(number, Status.AVAILABLE_FOR_PICKUP, 1, "Disponible", "Paris",
                                code="AG1")],
         relay_point=RELAY, pickup_deadline=None)  # fmt: skip
    html = page(Client(), order, **{})
    assert "Tabac de la Gare" in html and "08:00–19:00" in html
    other = shipped_order(shop_a, email="b@example.org", number="6A12345678903")
    push(
        shop_a,
        "6A12345678903",
        [
            event(
                "6A12345678903",
                Status.FAILED_ATTEMPT,
                1,
                "Absent",
                "Paris",
                reason=Reason.RECIPIENT_ABSENT,
                code="ND1",
            )
        ],
    )
    shop_a.support_email = "service@boutique.example"
    shop_a.save()
    html = page(Client(), other)
    assert "mailto:service@boutique.example" in html
    assert 'class="card alert"' in html


def test_the_json_answers_304_until_something_changes(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    url = f"/t/{links.tracking_token(order.pk)}.json"
    first = client.get(url)
    etag = first["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    push(
        shop_a,
        "6A12345678901",
        [
            event(
                "6A12345678901",
                Status.OUT_FOR_DELIVERY,
                0.5,
                "En livraison",
                "Paris 11",
                code="MD2",
            )
        ],
    )
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["parcels"][0]["status"] == "out_for_delivery"


def test_the_page_is_built_in_a_handful_of_queries(shop_a) -> None:
    order = shipped_order(shop_a)
    url = f"/t/{links.tracking_token(order.pk)}"
    client = Client()
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) <= 4, [q["sql"] for q in queries]


def test_the_wsgi_server_sends_no_live_stream(shop_a) -> None:
    order = shipped_order(shop_a)
    assert Client().get(f"/t/{links.tracking_token(order.pk)}/live").status_code == 204


def test_the_language_switch_changes_the_page(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    client.get("/language/", {"language": "en", "next": "/"})
    assert "Carrier events" in page(client, order)
    client.get("/language/", {"language": "fr", "next": "/"})
    assert "Événements du transporteur" in page(client, order)


def test_the_public_page_gives_no_way_to_the_customer_s_notification_choices(shop_a) -> None:
    order = shipped_order(shop_a)
    found = Client().post("/track/", {"reference": order.reference, "contact": "69002"})
    html = Client().get(found["Location"]).content.decode()
    assert links.preferences_token(order.customer_id) not in html
    assert "/p/" not in html
