"""Photos: what is accepted, what is refused (naming the file), and what is kept of them."""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from suivi.claims import photos, services
from suivi.claims.models import Claim, ClaimPhoto
from suivi.core.errors import InvalidInput
from suivi.orders.models import OrderEvent

from .support import (
    Person,
    files_in,
    gif,
    jpeg_with_gps,
    png_header,
    png_with_text,
    upload,
    webp,
)


def open_claim(person: Person, *files: object) -> Claim:
    return services.claim_open(
        customer_user=person.user,
        order=person.order,
        kind="damaged",
        description="Le carton est arrivé écrasé.",
        photos=list(files),  # type: ignore[arg-type]
    )


def refused(person: Person, *files: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        open_claim(person, *files)
    return caught.value


def stored(photo: ClaimPhoto) -> bytes:
    return photos.absolute(photo.path).read_bytes()


# --- what is kept -----------------------------------------------------------------------


def test_a_phone_jpeg_loses_its_gps_position_and_every_other_metadata(
    claire: Person, private_dir: Path
) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the GPS is there

    claim = open_claim(claire, upload("IMG_0042.jpg", original))

    [photo] = claim.photos.all()
    data = stored(photo)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not image.getexif().get_ifd(0x8825)
    for key in ("exif", "icc_profile", "xmp", "comment"):
        assert key not in image.info, key
    for secret in (b"Exif", b"PhoneCo", b"Secret Model", b"home", b"ICC_PROFILE"):
        assert secret not in data, secret
    # Stored in the private directory, with a random name, outside anything public.
    path = photos.absolute(photo.path)
    assert path.is_relative_to(private_dir / "claims" / str(claire.order.shop_id))
    assert "IMG_0042" not in path.name and path.suffix == ".jpg"
    assert photo.original_name == "IMG_0042.jpg"
    assert photo.content_type == "image/jpeg"
    assert photo.size == len(data) and photo.sha256 == hashlib.sha256(data).hexdigest()
    assert (photo.width, photo.height) == image.size


def test_the_orientation_is_applied_before_the_metadata_is_dropped(claire: Person) -> None:
    # Orientation 6: the camera was turned; the 40×20 picture shows upright as 20×40 with
    # its left (red) half on top.
    claim = open_claim(claire, upload("turned.jpg", jpeg_with_gps(orientation=6)))

    [photo] = claim.photos.all()
    image = Image.open(io.BytesIO(stored(photo))).convert("RGB")
    assert image.size == (20, 40) == (photo.width, photo.height)
    top, bottom = image.getpixel((10, 5)), image.getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 150 and top[2] < 80, top  # red
    assert bottom[2] > 150 and bottom[0] < 80, bottom  # blue


def test_a_png_screenshot_stays_png_without_its_text_chunks(claire: Person) -> None:
    claim = open_claim(claire, upload("capture.png", png_with_text(), "image/png"))

    [photo] = claim.photos.all()
    data = stored(photo)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and photo.content_type == "image/png"
    assert image.mode == "RGBA"
    assert not image.info.get("exif") and not image.getexif()
    for secret in (b"Bellecour", b"xmpmeta", b"PhoneCo", b"tEXt", b"iTXt", b"eXIf"):
        assert secret not in data, secret


def test_webp_is_accepted(claire: Person) -> None:
    claim = open_claim(claire, upload("photo.webp", webp(), "image/webp"))

    [photo] = claim.photos.all()
    assert photo.content_type == "image/webp"
    assert Image.open(io.BytesIO(stored(photo))).format == "WEBP"


def test_a_huge_picture_is_scaled_down_to_the_kept_size(claire: Person) -> None:
    out = io.BytesIO()
    Image.new("RGB", (5000, 100), "white").save(out, "PNG")

    claim = open_claim(claire, upload("long.png", out.getvalue(), "image/png"))

    [photo] = claim.photos.all()
    assert (photo.width, photo.height) == (photos.MAX_SIDE, 82)


# --- what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("facture.jpg", b"Bonjour, voici ma facture.\n" * 20, "not a JPEG, PNG or WebP"),
        ("setup.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 500, "not a JPEG, PNG"),
        ("anim.gif", gif(), "not a JPEG, PNG or WebP"),
        ("disguised.png", gif(), "not a JPEG, PNG or WebP"),
        ("page.jpg", b"%PDF-1.7\n" + b"0" * 300, "not a JPEG, PNG or WebP"),
        ("vide.jpg", b"", "is empty"),
        ("cut.jpg", jpeg_with_gps()[:200], "damaged or incomplete"),
    ],
)
def test_anything_but_a_readable_jpeg_png_or_webp_is_refused_by_name(
    claire: Person, private_dir: Path, name: str, data: bytes, expected: str
) -> None:
    error = refused(claire, upload("ok.jpg", jpeg_with_gps()), upload(name, data))

    assert error.field == "photos"
    assert f"“{name}”" in error.message and expected in error.message
    assert not Claim.objects.exists() and not ClaimPhoto.objects.exists()
    assert files_in(private_dir) == []  # the good first photo was not written either


def test_a_photo_over_8_mb_is_refused_before_it_is_read(claire: Person, private_dir: Path) -> None:
    big = upload("gros.jpg", b"\xff\xd8\xff" + b"\x00" * (9 * 1024 * 1024))

    error = refused(claire, big)

    assert "“gros.jpg”" in error.message and "8 MB" in error.message
    assert not Claim.objects.exists() and files_in(private_dir) == []


def test_exactly_8_mb_is_not_refused_for_its_size(claire: Person) -> None:
    at_limit = upload("limite.jpg", b"\x00" * photos.MAX_BYTES)

    error = refused(claire, at_limit)

    assert "not a JPEG" in error.message  # refused for its content, not its size


def test_six_photos_are_refused_five_are_accepted(claire: Person, private_dir: Path) -> None:
    six = [upload(f"p{i}.jpg", jpeg_with_gps()) for i in range(6)]

    error = refused(claire, *six)

    assert "at most 5" in error.message and error.field == "photos"
    assert files_in(private_dir) == []
    claim = open_claim(claire, *six[:5])
    assert claim.photos.count() == 5 and len(files_in(private_dir)) == 5


@pytest.mark.parametrize(
    "size", [(100_000, 100_000), (8_000, 8_000)], ids=["pillow-bomb", "over-our-limit"]
)
def test_a_decompression_bomb_is_refused_without_being_decoded(
    claire: Person, private_dir: Path, size: tuple[int, int]
) -> None:
    error = refused(claire, upload("bombe.png", png_header(*size), "image/png"))

    assert "“bombe.png”" in error.message and "too many pixels" in error.message
    assert files_in(private_dir) == []


def test_file_names_are_cleaned_for_display() -> None:
    assert photos.clean_name("../../etc/passwd") == "passwd"
    assert photos.clean_name("C:\\Users\\moi\\photo 1.jpg") == "photo 1.jpg"
    assert photos.clean_name("a\x00b<script>.jpg") == "ab_script_.jpg"
    assert photos.clean_name("") == "photo"
    assert len(photos.clean_name("x" * 300 + ".jpeg")) == 120
    assert photos.clean_name("x" * 300 + ".jpeg").endswith(".jpeg")


def test_a_stored_path_cannot_leave_the_claims_directory() -> None:
    with pytest.raises(ValueError, match="outside"):
        photos.absolute("claims/../../secret_key")


# --- files and transactions -------------------------------------------------------------


def test_files_written_by_a_failed_transaction_are_deleted(
    claire: Person, private_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> OrderEvent:
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_record", broken)

    with pytest.raises(RuntimeError):
        open_claim(claire, upload("a.jpg", jpeg_with_gps()), upload("b.png", png_with_text()))

    assert not Claim.objects.exists() and not ClaimPhoto.objects.exists()
    assert files_in(private_dir) == []


def test_the_purge_removes_only_old_files_no_row_points_to(
    claire: Person, private_dir: Path
) -> None:
    claim = open_claim(claire, upload("a.jpg", jpeg_with_gps()))
    [kept] = claim.photos.all()
    orphan = private_dir / "claims" / str(claim.shop_id) / "0123abcd.jpg"
    orphan.write_bytes(b"left by a rolled back transaction")
    young = private_dir / "claims" / str(claim.shop_id) / "fresh.jpg"
    young.write_bytes(b"a transaction may still be running")
    old = time.time() - 7200
    for path in (orphan, photos.absolute(kept.path)):
        os.utime(path, (old, old))

    assert services.claim_photos_purge_orphans(older_than_seconds=3600) == 1

    assert not orphan.exists()
    assert young.exists() and photos.absolute(kept.path).exists()


def test_a_phone_mpo_jpeg_is_kept_as_a_plain_jpeg_of_its_first_picture(claire: Person) -> None:
    out = io.BytesIO()
    first = Image.new("RGB", (32, 24), (200, 0, 0))
    first.save(out, "MPO", save_all=True, append_images=[Image.new("RGB", (8, 6), "blue")])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"

    claim = open_claim(claire, upload("IMG_MPO.jpg", out.getvalue()))

    [photo] = claim.photos.all()
    image = Image.open(io.BytesIO(stored(photo)))
    assert image.format == "JPEG" and image.size == (32, 24)
    assert photo.content_type == "image/jpeg"
