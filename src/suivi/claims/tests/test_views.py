"""The claim pages of the customer space, through the test client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from suivi.claims import photos, services
from suivi.claims.models import Claim, ClaimMessage, ClaimPhoto

from .support import Person, files_in, jpeg_with_gps, png_with_text, upload


def client_for(person: Person, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(person.user)
    return client


def claim_of(person: Person, **kwargs: Any) -> Claim:
    return services.claim_open(
        customer_user=person.user,
        order=person.order,
        kind="damaged",
        description="La lampe est arrivée en morceaux.",
        **kwargs,
    )


def form_data(person: Person, *files: SimpleUploadedFile, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order": person.order.pk,
        "kind": "damaged",
        "description": "La lampe est arrivée en morceaux.",
        "requested_resolution": "reship",
        "photos": list(files),
    }
    return data | overrides


# --- access -----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(claire: Person) -> None:
    claim = claim_of(claire, photos=[upload("a.jpg", jpeg_with_gps())])
    photo = claim.photos.get()
    login = reverse("account_login")
    for url in (
        reverse("claims:list"),
        reverse("claims:new") + f"?order={claire.order.pk}",
        reverse("claims:detail", args=[claim.pk]),
        reverse("claims:photo", args=[claim.pk, photo.pk]),
    ):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(login), url


def test_another_customers_claim_order_or_photo_is_not_found(claire: Person, bruno: Person) -> None:
    claim = claim_of(claire, photos=[upload("a.jpg", jpeg_with_gps())])
    photo = claim.photos.get()
    own = claim_of(bruno, photos=[upload("b.jpg", jpeg_with_gps())])
    client = client_for(bruno)

    assert client.get(reverse("claims:detail", args=[claim.pk])).status_code == 404
    assert client.get(reverse("claims:photo", args=[claim.pk, photo.pk])).status_code == 404
    # Their own claim id with Claire's photo id: still not found.
    assert client.get(reverse("claims:photo", args=[own.pk, photo.pk])).status_code == 404
    assert client.get(reverse("claims:detail", args=[10**9])).status_code == 404
    assert client.get(reverse("claims:new") + f"?order={claire.order.pk}").status_code == 404
    assert client.get(reverse("claims:new") + "?order=abc").status_code == 404
    response = client.post(reverse("claims:new"), form_data(claire))
    assert response.status_code == 404
    response = client.post(reverse("claims:detail", args=[claim.pk]), {"body": "Coucou"})
    assert response.status_code == 404
    assert Claim.objects.count() == 2 and not ClaimMessage.objects.exists()
    listing = client.get(reverse("claims:list")).content.decode()
    assert own.reference in listing and claim.reference not in listing


def test_forms_refuse_a_post_without_the_csrf_token(claire: Person) -> None:
    claim = claim_of(claire)
    client = client_for(claire, enforce_csrf_checks=True)

    response = client.post(reverse("claims:new"), form_data(claire))
    assert response.status_code == 403
    response = client.post(reverse("claims:detail", args=[claim.pk]), {"body": "Bonjour"})
    assert response.status_code == 403
    assert Claim.objects.count() == 1 and not ClaimMessage.objects.exists()


# --- opening a claim --------------------------------------------------------------------


def test_the_form_has_a_label_for_every_field_and_a_multiple_photo_input(claire: Person) -> None:
    response = client_for(claire).get(reverse("claims:new") + f"?order={claire.order.pk}")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    for field in ("order", "description", "requested_resolution", "photos"):
        assert f'<label for="id_{field}"' in html, field
    assert "<legend" in html  # the kinds of problem are a group of radio buttons
    assert 'type="file" name="photos"' in html
    assert 'accept="image/jpeg,image/png,image/webp"' in html and " multiple" in html
    assert f'<option value="{claire.order.pk}" selected>' in html


def test_a_customer_opens_a_claim_with_a_photo_and_sees_it(
    claire: Person, private_dir: Path
) -> None:
    client = client_for(claire)

    response = client.post(
        reverse("claims:new"), form_data(claire, upload("IMG_1.jpg", jpeg_with_gps()))
    )

    claim = Claim.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("claims:detail", args=[claim.pk])
    assert claim.customer_id == claire.order.customer_id
    assert (claim.kind, claim.requested_resolution) == ("damaged", "reship")
    photo = claim.photos.get()
    assert len(files_in(private_dir)) == 1

    page = client.get(response["Location"]).content.decode()
    assert "La lampe est arrivée en morceaux." in page
    assert claim.reference in page
    assert reverse("claims:photo", args=[claim.pk, photo.pk]) in page

    served = client.get(reverse("claims:photo", args=[claim.pk, photo.pk]))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Cache-Control"] == "private, no-store"
    assert served["Content-Disposition"].startswith("inline")
    body = b"".join(served.streaming_content)  # type: ignore[attr-defined]
    assert body == photos.absolute(photo.path).read_bytes()
    assert b"Exif" not in body


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (upload("setup.jpg", b"MZ\x90\x00" + b"\x00" * 64), "is not a JPEG, PNG or WebP"),
        (upload("gros.jpg", b"\xff\xd8" + b"\x00" * (9 * 1024 * 1024)), "larger than 8 MB"),
    ],
    ids=["renamed-program", "too-large"],
)
def test_a_bad_file_re_renders_the_form_naming_it_and_nothing_is_saved(
    claire: Person, private_dir: Path, bad: SimpleUploadedFile, expected: str
) -> None:
    response = client_for(claire).post(
        reverse("claims:new"), form_data(claire, upload("ok.png", png_with_text()), bad)
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert bad.name in html and expected in html
    assert 'role="alert"' in html
    assert "La lampe est arrivée en morceaux." in html  # what was typed is kept
    assert not Claim.objects.exists() and not ClaimPhoto.objects.exists()
    assert files_in(private_dir) == []


def test_six_photos_re_render_the_form(claire: Person) -> None:
    files = [upload(f"p{i}.jpg", jpeg_with_gps()) for i in range(6)]

    response = client_for(claire).post(reverse("claims:new"), form_data(claire, *files))

    assert response.status_code == 400
    assert "at most 5 photos" in response.content.decode()
    assert not Claim.objects.exists()


def test_missing_fields_are_shown_readably(claire: Person) -> None:
    response = client_for(claire).post(
        reverse("claims:new"), form_data(claire, kind="", description="")
    )

    assert response.status_code == 400
    assert response.content.decode().count('class="errorlist') >= 2
    assert not Claim.objects.exists()


def test_a_body_over_the_limit_is_refused_readably_not_with_a_server_error(
    claire: Person, private_dir: Path
) -> None:
    huge = upload("video.jpg", b"\x00" * (46 * 1024 * 1024))

    response = client_for(claire).post(reverse("claims:new"), form_data(claire, huge))

    assert response.status_code == 413
    assert "too large" in response.content.decode()
    assert not Claim.objects.exists() and files_in(private_dir) == []


# --- the thread -------------------------------------------------------------------------


def test_the_thread_shows_the_shops_answers_but_never_its_internal_notes(
    claire: Person, agent: Any
) -> None:
    claim = claim_of(claire)
    services.claim_reply_staff(claim=claim, user=agent, body="Nous préparons un renvoi.")
    note = services.claim_reply_staff(
        claim=claim,
        user=agent,
        body="NOTE-INTERNE client difficile",
        internal=True,
        photos=[upload("interne.jpg", jpeg_with_gps())],
    )
    services.claim_resolve(claim=claim, user=agent, resolution="reship", note="Départ lundi.")
    hidden = note.photos.get()
    client = client_for(claire)

    html = client.get(reverse("claims:detail", args=[claim.pk])).content.decode()

    assert "Nous préparons un renvoi." in html
    assert "NOTE-INTERNE" not in html and "interne.jpg" not in html
    assert reverse("claims:photo", args=[claim.pk, hidden.pk]) not in html
    assert "Reshipment" in html or "Renvoi" in html or "Réexpédition" in html
    assert "Départ lundi." in html
    assert client.get(reverse("claims:photo", args=[claim.pk, hidden.pk])).status_code == 404


def test_the_customer_replies_with_a_photo(claire: Person, agent: Any) -> None:
    claim = claim_of(claire)
    services.claim_reply_staff(claim=claim, user=agent, body="Une photo ?", ask_customer=True)
    client = client_for(claire)

    response = client.post(
        reverse("claims:detail", args=[claim.pk]),
        {"body": "Voici le carton.", "photos": [upload("carton.png", png_with_text())]},
    )

    assert response.status_code == 302
    message = ClaimMessage.objects.get(author_kind="customer")
    assert message.body == "Voici le carton." and message.photos.count() == 1
    assert Claim.objects.get().status == Claim.Status.IN_PROGRESS
    html = client.get(reverse("claims:detail", args=[claim.pk])).content.decode()
    assert "Voici le carton." in html
    assert reverse("claims:photo", args=[claim.pk, message.photos.get().pk]) in html


def test_an_empty_or_bad_reply_is_refused_readably(claire: Person, private_dir: Path) -> None:
    claim = claim_of(claire)
    client = client_for(claire)
    url = reverse("claims:detail", args=[claim.pk])

    empty = client.post(url, {"body": "  "})
    bad = client.post(url, {"body": "Tenez", "photos": [upload("x.webp", b"GIF89a" + b"0" * 50)]})

    assert empty.status_code == 400 and "Write a message or add a photo" in empty.content.decode()
    assert bad.status_code == 400 and "x.webp" in bad.content.decode()
    assert not ClaimMessage.objects.exists() and files_in(private_dir) == []


def test_a_closed_claim_takes_no_more_replies(claire: Person, agent: Any) -> None:
    claim = claim_of(claire)
    services.claim_set_status(claim=claim, user=agent, status="closed")
    client = client_for(claire)
    url = reverse("claims:detail", args=[claim.pk])

    page = client.get(url).content.decode()
    response = client.post(url, {"body": "Encore moi"})

    assert 'name="body"' not in page and "closed" in page
    assert response.status_code == 400
    assert not ClaimMessage.objects.filter(author_kind="customer").exists()


def test_the_list_shows_the_customers_claims(claire: Person) -> None:
    claim = claim_of(claire)

    response = client_for(claire).get(reverse("claims:list"))

    assert response.status_code == 200
    html = response.content.decode()
    assert claim.reference in html and claire.order.reference in html
    assert reverse("claims:detail", args=[claim.pk]) in html
