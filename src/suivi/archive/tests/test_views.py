"""Customer pages: the owner sees and downloads; anyone else gets a 404; strangers sign in."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pypdf
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from suivi.archive.collect import collect
from suivi.archive.models import ArchivedDocument
from suivi.customers.models import Customer
from suivi.orders.models import CreditNote, Invoice, Order
from suivi.orders.services import LineCancellation, order_cancel_lines
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import archive_text

pytestmark = pytest.mark.django_db
Kind = ArchivedDocument.Kind


def _client_of(email: str) -> Client:
    user = get_user_model().objects.create_user(
        username=email, email=email, password="a long passphrase 42"
    )
    Customer.objects.filter(email=email).update(user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def order(shop_a: Shop) -> Order:
    """A paid order of Claire's (invoiced), one unit cancelled (a credit note), archived."""
    order = make_order(shop_a, paid=True)
    order_cancel_lines(
        shop=shop_a, order_id=order.pk, cancellations=[LineCancellation(2, 1)], reason="other"
    )
    collect()
    return order


@pytest.fixture
def owner(order: Order) -> Client:
    return _client_of("claire.martin@example.fr")


@pytest.fixture
def stranger(shop_b: Shop) -> Client:
    make_order(shop_b, email="paul.durand@example.fr", paid=True)
    return _client_of("paul.durand@example.fr")


def _urls(order: Order) -> list[str]:
    doc = ArchivedDocument.objects.filter(order=order).first()
    note = CreditNote.objects.get(order=order)
    assert doc is not None
    return [
        reverse("archive:list", args=[order.pk]),
        reverse("archive:download", args=[order.pk, doc.pk]),
        reverse("archive:invoice", args=[order.pk]),
        reverse("archive:credit_note", args=[order.pk, note.pk]),
    ]


def _is_private_attachment(response: Any) -> None:
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Disposition"].startswith("attachment;")


def test_the_owner_sees_the_documents_with_their_digests_and_chain_status(
    owner: Client, order: Order
) -> None:
    docs = list(ArchivedDocument.objects.filter(order=order).order_by("seq"))
    assert {d.kind for d in docs} == {Kind.INVOICE, Kind.CREDIT_NOTE}

    response = owner.get(reverse("archive:list", args=[order.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    for doc in docs:
        assert doc.sha256 in page
        assert f"#{doc.seq}" in page
        assert reverse("archive:download", args=[order.pk, doc.pk]) in page
    assert reverse("archive:invoice", args=[order.pk]) in page
    assert "Check failed" not in page


def test_the_list_says_when_a_check_fails(owner: Client, order: Order, private_dir: Path) -> None:
    doc = ArchivedDocument.objects.filter(order=order).first()
    assert doc is not None
    (private_dir / "archive" / doc.path).write_bytes(b"altered")

    response = owner.get(reverse("archive:list", args=[order.pk]))

    assert "Check failed" in response.content.decode()


def test_the_owner_downloads_exactly_the_archived_bytes(owner: Client, order: Order) -> None:
    doc = archive_text(order, "note", "hello")

    response = owner.get(reverse("archive:download", args=[order.pk, doc.pk]))

    assert response.status_code == 200
    assert response.content == b"hello"
    assert response["Content-Type"] == "text/plain"
    _is_private_attachment(response)
    assert order.reference in response["Content-Disposition"]


def test_an_altered_or_purged_file_is_not_served(
    owner: Client, order: Order, private_dir: Path
) -> None:
    doc = archive_text(order, "note", "hello")
    url = reverse("archive:download", args=[order.pk, doc.pk])
    (private_dir / "archive" / doc.path).write_bytes(b"hellO")
    assert owner.get(url).status_code == 404

    other = archive_text(order, "other", "bye")
    ArchivedDocument.objects.filter(pk=other.pk).update(purged_at=other.retention_until)
    assert owner.get(reverse("archive:download", args=[order.pk, other.pk])).status_code == 404


def test_the_invoice_is_the_archived_pdf(owner: Client, order: Order, private_dir: Path) -> None:
    invoice = Invoice.objects.get(order=order)
    archived = ArchivedDocument.objects.get(order=order, kind=Kind.INVOICE)

    response = owner.get(reverse("archive:invoice", args=[order.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    _is_private_attachment(response)
    assert response.content == (private_dir / "archive" / archived.path).read_bytes()
    text = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert invoice.number in text


def test_an_invoice_not_archived_yet_is_rendered(owner: Client, shop_a: Shop) -> None:
    fresh = make_order(shop_a, paid=True)  # after the fixture's collect: not archived
    invoice = Invoice.objects.get(order=fresh)

    response = owner.get(reverse("archive:invoice", args=[fresh.pk]))

    assert response.status_code == 200
    assert not ArchivedDocument.objects.filter(order=fresh).exists()
    assert invoice.number in pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_the_credit_note_is_served(owner: Client, order: Order) -> None:
    note = CreditNote.objects.get(order=order)

    response = owner.get(reverse("archive:credit_note", args=[order.pk, note.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert note.number in pypdf.PdfReader(io.BytesIO(response.content)).pages[0].extract_text()


def test_an_order_without_invoice_has_no_invoice_page(owner: Client, shop_a: Shop) -> None:
    unpaid = make_order(shop_a)  # awaiting payment: not invoiced

    assert owner.get(reverse("archive:invoice", args=[unpaid.pk])).status_code == 404
    assert owner.get(reverse("archive:list", args=[unpaid.pk])).status_code == 200


def test_another_customer_gets_404_everywhere(stranger: Client, order: Order) -> None:
    for url in _urls(order):
        assert stranger.get(url).status_code == 404, url


def test_objects_of_another_order_are_not_reachable_through_ones_own(
    owner: Client, order: Order, shop_a: Shop
) -> None:
    mine = make_order(shop_a)  # Claire's too, without documents
    doc = ArchivedDocument.objects.filter(order=order).first()
    note = CreditNote.objects.get(order=order)
    assert doc is not None

    assert owner.get(reverse("archive:download", args=[mine.pk, doc.pk])).status_code == 404
    assert owner.get(reverse("archive:credit_note", args=[mine.pk, note.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(order: Order) -> None:
    for url in _urls(order):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login"))


def test_unknown_ids_are_404(owner: Client, order: Order) -> None:
    assert owner.get(reverse("archive:list", args=[999999])).status_code == 404
    assert owner.get(reverse("archive:download", args=[order.pk, 999999])).status_code == 404
    assert owner.get(reverse("archive:credit_note", args=[order.pk, 999999])).status_code == 404
