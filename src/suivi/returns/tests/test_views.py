"""Customer pages of returns through the test client: ownership, CSRF, forms, the label."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from suivi.orders.lifecycle import Mode, Status
from suivi.orders.tests.support import order_in_status
from suivi.returns import services
from suivi.returns.lifecycle import ReturnStatus
from suivi.returns.models import ReturnRequest
from suivi.returns.services import ReturnItem
from suivi.shops.models import Shop

from .support import customer_user, delivered_order, lines_of, pdf_upload, staff_user

pytestmark = pytest.mark.django_db


def signed_in(user: Any, **kwargs: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en", **kwargs)
    client.force_login(user)
    return client


def form_data(order: Any, **picked: tuple[int, str]) -> dict[str, str]:
    data = {"note": ""}
    for sku, line in lines_of(order).items():
        quantity, reason = picked.get(sku.replace("-", "_"), (0, ""))
        data |= {f"qty_{line.pk}": str(quantity), f"reason_{line.pk}": reason}
        data[f"comment_{line.pk}"] = ""
    return data


def approved_with_label(shop: Shop) -> tuple[Any, Any, ReturnRequest]:
    order = delivered_order(shop)
    user = customer_user(order)
    ret = services.return_request(
        user=user, order=order, lines=[ReturnItem(lines_of(order)["BONNET"].pk, 1, "damaged")]
    )
    ret = services.return_approve(
        ret=ret, user=staff_user(shop), instructions="Post it to 1 rue X.", label=pdf_upload()
    )
    return order, user, ret


def test_anonymous_visitors_are_sent_to_sign_in(shop_a: Shop) -> None:
    order, _user, ret = approved_with_label(shop_a)
    login = reverse("account_login")
    for url in (
        reverse("returns:list"),
        reverse("returns:new", args=[order.pk]),
        reverse("returns:detail", args=[ret.pk]),
        reverse("returns:label", args=[ret.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(login), url
    response = Client().post(reverse("returns:cancel", args=[ret.pk]))
    assert response.status_code == 302 and response["Location"].startswith(login)


def test_the_form_lists_returnable_lines_with_labels_and_a_csrf_token(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    pull = lines_of(order)["PULL-M"]
    services.return_request(user=user, order=order, lines=[ReturnItem(pull.pk, 2, "other")])
    response = signed_in(user).get(reverse("returns:new", args=[order.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "csrfmiddlewaretoken" in html
    bonnet = lines_of(order)["BONNET"]
    for name in (f"qty_{bonnet.pk}", f"reason_{bonnet.pk}", f"comment_{bonnet.pk}", "note"):
        assert f'<label for="id_{name}">' in html, name
        assert f'id="id_{name}"' in html
    # The pullovers are all in a return already: listed with why, no selector.
    assert f"qty_{pull.pk}" not in html
    assert 'Pull marin — <span class="muted">Already in a return request</span>' in html


def test_a_request_through_the_form(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    client = signed_in(user)
    data = form_data(order, PULL_M=(1, "wrong_size"))
    data["note"] = "Thanks"
    response = client.post(reverse("returns:new", args=[order.pk]), data)
    ret = ReturnRequest.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == reverse("returns:detail", args=[ret.pk])
    assert ret.customer_note == "Thanks"
    assert [(ln.order_line.sku, ln.quantity, ln.reason) for ln in ret.lines.all()] == [
        ("PULL-M", 1, "wrong_size")
    ]
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "Requested" in html and "Pull marin" in html and "Wrong size" in html
    assert "Cancel this return request" in html
    assert "Your return request was sent to the shop." in html
    listing = client.get(reverse("returns:list")).content.decode()
    assert reverse("returns:detail", args=[ret.pk]) in listing and order.reference in listing


@pytest.mark.parametrize(
    ("picked", "message"),
    [
        ({}, "Choose at least one item to return."),
        ({"PULL_M": (1, "")}, "Choose a reason for this item."),
        ({"PULL_M": (3, "other")}, "Select a valid choice."),
    ],
)
def test_a_bad_form_is_shown_again_with_a_readable_error(
    shop_a: Shop, picked: dict[str, tuple[int, str]], message: str
) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    response = signed_in(user).post(
        reverse("returns:new", args=[order.pk]), form_data(order, **picked)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ReturnRequest.objects.exists()


def test_the_service_refusal_is_shown_on_the_form(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    client = signed_in(user)
    data = form_data(order, PULL_M=(2, "other"))
    # Someone (another tab) takes the pullovers between the form and the submission.
    services.return_request(
        user=user, order=order, lines=[ReturnItem(lines_of(order)["PULL-M"].pk, 1, "other")]
    )
    response = client.post(reverse("returns:new", args=[order.pk]), data)
    assert response.status_code == 400
    assert ReturnRequest.objects.filter(order=order).count() == 1


def test_an_order_not_delivered_says_why_instead_of_a_form(shop_a: Shop) -> None:
    order = order_in_status(shop_a, Mode.DELIVERY, Status.IN_TRANSIT)
    user = customer_user(order)
    client = signed_in(user)
    response = client.get(reverse("returns:new", args=[order.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Items can be returned once the order has been delivered." in html
    assert "<select" not in html.split("<main", 1)[1]
    response = client.post(reverse("returns:new", args=[order.pk]), form_data(order))
    assert response.status_code == 400
    assert not ReturnRequest.objects.exists()


def test_after_the_window_the_page_says_until_when_it_was_open(shop_a: Shop) -> None:
    order = delivered_order(shop_a, days_ago=40)
    response = signed_in(customer_user(order)).get(reverse("returns:new", args=[order.pk]))
    assert response.status_code == 200
    assert re.search(r"The return period ended on \w+ \d+, \d{4} \(30 days after delivery\)\.",
                     response.content.decode())  # fmt: skip


def test_another_customer_gets_404_everywhere(shop_a: Shop, shop_b: Shop) -> None:
    order, _owner, ret = approved_with_label(shop_a)
    other_order = delivered_order(shop_b, email="bob@example.fr")
    stranger = signed_in(customer_user(other_order, email="bob@example.fr"))
    assert stranger.get(reverse("returns:new", args=[order.pk])).status_code == 404
    assert stranger.post(reverse("returns:new", args=[order.pk]), {}).status_code == 404
    assert stranger.get(reverse("returns:detail", args=[ret.pk])).status_code == 404
    assert stranger.get(reverse("returns:label", args=[ret.pk])).status_code == 404
    assert stranger.post(reverse("returns:cancel", args=[ret.pk])).status_code == 404
    assert stranger.get(reverse("returns:detail", args=[ret.pk + 1000])).status_code == 404
    assert (
        reverse("returns:detail", args=[ret.pk])
        not in stranger.get(reverse("returns:list")).content.decode()
    )
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.APPROVED


def test_the_owner_downloads_the_label_privately(shop_a: Shop) -> None:
    _order, user, ret = approved_with_label(shop_a)
    client = signed_in(user)
    page = client.get(reverse("returns:detail", args=[ret.pk])).content.decode()
    assert "Post it to 1 rue X." in page
    assert reverse("returns:label", args=[ret.pk]) in page
    assert "Cancel this return request" not in page
    response = client.get(reverse("returns:label", args=[ret.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF-")  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"return-label-{ret.pk}.pdf" in response["Content-Disposition"]


def test_no_label_is_a_404(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = services.return_request(
        user=user, order=order, lines=[ReturnItem(lines_of(order)["BONNET"].pk, 1, "damaged")]
    )
    assert signed_in(user).get(reverse("returns:label", args=[ret.pk])).status_code == 404


def test_the_customer_cancels_from_the_page(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = services.return_request(
        user=user, order=order, lines=[ReturnItem(lines_of(order)["BONNET"].pk, 1, "damaged")]
    )
    client = signed_in(user)
    assert client.get(reverse("returns:cancel", args=[ret.pk])).status_code == 405
    response = client.post(reverse("returns:cancel", args=[ret.pk]), follow=True)
    assert response.status_code == 200
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.CANCELLED
    assert "Your return request is cancelled." in response.content.decode()
    again = client.post(reverse("returns:cancel", args=[ret.pk]), follow=True)
    assert "can be cancelled" in again.content.decode()


def test_posts_without_the_csrf_token_are_refused(shop_a: Shop) -> None:
    order = delivered_order(shop_a)
    user = customer_user(order)
    ret = services.return_request(
        user=user, order=order, lines=[ReturnItem(lines_of(order)["BONNET"].pk, 1, "damaged")]
    )
    client = signed_in(user, enforce_csrf_checks=True)
    response = client.post(
        reverse("returns:new", args=[order.pk]), form_data(order, PULL_M=(1, "other"))
    )
    assert response.status_code == 403
    assert client.post(reverse("returns:cancel", args=[ret.pk])).status_code == 403
    assert ReturnRequest.objects.get(pk=ret.pk).status == ReturnStatus.REQUESTED
    assert ReturnRequest.objects.count() == 1


def test_the_order_panel_tells_whether_and_until_when(shop_a: Shop) -> None:
    template = Template("{% load returns_tags %}{% order_returns order %}")
    open_order = delivered_order(shop_a)
    user = customer_user(open_order)
    ret = services.return_request(
        user=user,
        order=open_order,
        lines=[ReturnItem(lines_of(open_order)["BONNET"].pk, 1, "damaged")],
    )
    late = delivered_order(shop_a, days_ago=60)
    with translation.override("en"):
        html = template.render(Context({"order": open_order}))
        late_html = template.render(Context({"order": late}))
    assert reverse("returns:new", args=[open_order.pk]) in html
    assert "You can return delivered items until" in html
    assert reverse("returns:detail", args=[ret.pk]) in html and "Requested" in html
    assert reverse("returns:new", args=[late.pk]) not in late_html
    assert "The return period ended on" in late_html
