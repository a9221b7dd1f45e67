"""Notifications area: rules matrix, settings, branding, and who reaches which page."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, PngImagePlugin

from suivi.notifications import services
from suivi.notifications.models import NotificationRule, NotificationSettings
from suivi.shops.models import Shop

from .support import client_for

pytestmark = pytest.mark.django_db

TEMPLATE_ARGS = ["shipped", "email", "en"]
# (URL name, extra args, methods): every URL of the area.
URLS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("notifications-rules", [], ("get",)),
    ("notifications-rules-save", [], ("post",)),
    ("notifications-rules-reset", [], ("get", "post")),
    ("notifications-settings", [], ("get",)),
    ("notifications-settings-save", [], ("post",)),
    ("notifications-branding", [], ("get",)),
    ("notifications-branding-save", [], ("post",)),
    ("notifications-branding-logo", [], ("get",)),
    ("notifications-templates", [], ("get",)),
    ("notifications-template", TEMPLATE_ARGS, ("get",)),
    ("notifications-template-save", TEMPLATE_ARGS, ("post",)),
    ("notifications-template-reset", TEMPLATE_ARGS, ("get", "post")),
    ("notifications-preview", TEMPLATE_ARGS, ("post",)),
    ("notifications-test", TEMPLATE_ARGS, ("post",)),
]
CONFIGURE_ONLY = {
    "notifications-rules-save",
    "notifications-rules-reset",
    "notifications-settings-save",
    "notifications-branding-save",
    "notifications-template-save",
    "notifications-template-reset",
}


@pytest.fixture(autouse=True)
def _english(settings: Any, tmp_path: Path) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.MEDIA_ROOT = tmp_path / "media"


def url(name: str, shop: Shop, *args: str) -> str:
    return reverse(f"backoffice:{name}", args=[shop.slug, *args])


def rules_state(shop: Shop) -> list[tuple[str, str, bool]]:
    return sorted(
        NotificationRule.objects.filter(shop=shop).values_list("event_key", "channel", "enabled")
    )


def enabled_cells(shop: Shop) -> list[str]:
    return [
        f"{row.event_key}:{row.channel}" for row in services.rules_matrix(shop=shop) if row.enabled
    ]


def _request(client: Client, method: str, target: str) -> Any:
    return client.get(target) if method == "get" else client.post(target, {"confirmed": "1"})


# --- who reaches what -------------------------------------------------------------------


def test_every_url_of_the_area_is_listed_here() -> None:
    from suivi.backoffice import urls_notifications

    assert {p.name for p in urls_notifications.urlpatterns} == {name for name, _, _ in URLS}


def test_logistics_gets_403_on_every_notifications_url(shop_a: Shop, logistics_a: Any) -> None:
    client = client_for(logistics_a)
    for name, args, methods in URLS:
        for method in methods:
            response = _request(client, method, url(name, shop_a, *args))
            assert response.status_code == 403, (name, method)
    assert rules_state(shop_a) == []


def test_another_shops_staff_gets_404_on_every_notifications_url(
    shop_a: Shop, owner_b: Any
) -> None:
    client = client_for(owner_b)
    for name, args, methods in URLS:
        for method in methods:
            response = _request(client, method, url(name, shop_a, *args))
            assert response.status_code == 404, (name, method)
    assert rules_state(shop_a) == []
    assert not NotificationSettings.objects.filter(shop=shop_a).exists()


def test_customer_service_reads_but_cannot_configure(shop_a: Shop, service_a: Any) -> None:
    client = client_for(service_a)
    for name, args, methods in URLS:
        if name in CONFIGURE_ONLY:
            for method in methods:
                response = _request(client, method, url(name, shop_a, *args))
                assert response.status_code == 403, (name, method)
    assert rules_state(shop_a) == []


# --- rules ------------------------------------------------------------------------------


def test_the_rules_page_shows_the_matrix_with_defaults(shop_a: Shop, owner_a: Any) -> None:
    page = client_for(owner_a).get(url("notifications-rules", shop_a)).content.decode()
    assert "Notification rules" in page
    assert "Save rules" in page
    assert 'value="shipped:email" checked' in page
    assert 'value="shipped:sms">' in page
    assert "essential" in page and "urgent" in page and ">default<" in page
    assert "Reset to defaults" not in page  # nothing customised yet


def test_saving_the_matrix_writes_only_the_changed_cells(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    cells = enabled_cells(shop_a)
    cells.remove("shipped:email")
    cells.append("shipped:sms")
    response = client.post(url("notifications-rules-save", shop_a), {"rule": cells}, follow=True)
    assert response.redirect_chain[-1][0] == url("notifications-rules", shop_a)
    assert "Notification rules saved." in response.content.decode()
    assert rules_state(shop_a) == [("shipped", "email", False), ("shipped", "sms", True)]
    page = response.content.decode()
    assert "changed" in page and "Reset to defaults" in page
    # Saving the same ticks again changes nothing.
    client.post(url("notifications-rules-save", shop_a), {"rule": cells})
    assert rules_state(shop_a) == [("shipped", "email", False), ("shipped", "sms", True)]


@pytest.mark.parametrize("bad", ["shipped:fax", "teleported:email", "shipped", "shipped:webhook"])
def test_an_unknown_event_or_channel_is_refused_and_nothing_changes(
    shop_a: Shop, owner_a: Any, bad: str
) -> None:
    cells = [*enabled_cells(shop_a), "in_transit:email", bad]
    response = client_for(owner_a).post(
        url("notifications-rules-save", shop_a), {"rule": cells}, follow=True
    )
    assert "The rules were not saved" in response.content.decode()
    assert rules_state(shop_a) == []


def test_reset_to_defaults_asks_first_then_deletes_the_rules(shop_a: Shop, owner_a: Any) -> None:
    services.rules_update(
        shop=shop_a, changes=[{"event_key": "shipped", "channel": "sms", "enabled": True}]
    )
    client = client_for(owner_a)
    confirm = client.get(url("notifications-rules-reset", shop_a))
    assert confirm.status_code == 200 and "Reset to defaults" in confirm.content.decode()
    assert rules_state(shop_a) != []
    unconfirmed = client.post(url("notifications-rules-reset", shop_a))
    assert unconfirmed.status_code == 400 and rules_state(shop_a) != []
    done = client.post(url("notifications-rules-reset", shop_a), {"confirmed": "1"}, follow=True)
    assert "follows the defaults again" in done.content.decode()
    assert rules_state(shop_a) == []


def test_the_rules_are_read_only_for_customer_service(shop_a: Shop, service_a: Any) -> None:
    client = client_for(service_a)
    page = client.get(url("notifications-rules", shop_a)).content.decode()
    assert "Save rules" not in page
    assert 'value="shipped:email" checked disabled' in page
    response = client.post(url("notifications-rules-save", shop_a), {"rule": ["shipped:sms"]})
    assert response.status_code == 403
    assert rules_state(shop_a) == []


# --- settings ---------------------------------------------------------------------------

GOOD_SETTINGS = {
    "reply_to": "service@maison-lumiere.example",
    "sms_sender": "MaisonLum",
    "logo_url": "",
    "quiet_start": "22:00",
    "quiet_end": "07:30",
    "burst_window_minutes": "5",
    "marketing_html": "<p>-10 %</p>",
    "marketing_text": "-10 %",
}


def test_settings_are_shown_and_saved(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    page = client.get(url("notifications-settings", shop_a)).content.decode()
    assert "Save settings" in page and 'value="21:00"' in page
    response = client.post(url("notifications-settings-save", shop_a), GOOD_SETTINGS, follow=True)
    assert "Notification settings saved." in response.content.decode()
    saved = NotificationSettings.objects.get(shop=shop_a)
    assert saved.reply_to == "service@maison-lumiere.example"
    assert saved.sms_sender == "MaisonLum"
    assert saved.burst_window_seconds == 300
    assert saved.quiet_start.strftime("%H:%M") == "22:00"
    assert saved.quiet_end.strftime("%H:%M") == "07:30"


@pytest.mark.parametrize(
    ("field", "value", "shown_on"),
    [
        ("sms_sender", "Maison Lumière & Co", "sms_sender"),
        ("reply_to", "not an address", "reply_to"),
        ("logo_url", "ftp://example.com/logo.png", "logo_url"),
        ("burst_window_minutes", "90", "burst_window_minutes"),
        ("quiet_start", "25:00", "quiet_start"),
    ],
)
def test_a_bad_setting_is_shown_on_its_field_and_nothing_is_saved(
    shop_a: Shop, owner_a: Any, field: str, value: str, shown_on: str
) -> None:
    response = client_for(owner_a).post(
        url("notifications-settings-save", shop_a), {**GOOD_SETTINGS, field: value}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors.get(shown_on), form.errors
    assert not NotificationSettings.objects.filter(shop=shop_a).exists()


def test_settings_are_read_only_for_customer_service(shop_a: Shop, service_a: Any) -> None:
    client = client_for(service_a)
    page = client.get(url("notifications-settings", shop_a)).content.decode()
    assert "Save settings" not in page and "disabled" in page
    response = client.post(url("notifications-settings-save", shop_a), GOOD_SETTINGS)
    assert response.status_code == 403
    assert not NotificationSettings.objects.filter(shop=shop_a).exists()


# --- branding ---------------------------------------------------------------------------


def png(size: tuple[int, int] = (30, 30)) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone private")
    out = io.BytesIO()
    Image.new("RGB", size, (0, 90, 160)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


BRANDING = {"sender_name": "Maison L.", "primary_color": "#102030", "accent_color": "#F0E0D0"}


def branding_state(shop: Shop) -> tuple[str, str, str, str]:
    shop.refresh_from_db()
    return (shop.sender_name, shop.primary_color, shop.accent_color, shop.logo.name or "")


def test_a_good_png_logo_is_stored_re_encoded_and_shown(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    page = client.get(url("notifications-branding", shop_a)).content.decode()
    assert "No logo yet." in page and 'type="color"' in page and "Save branding" in page
    original = png()
    response = client.post(
        url("notifications-branding-save", shop_a),
        {**BRANDING, "logo": SimpleUploadedFile("logo.png", original, "image/png")},
        follow=True,
    )
    page = response.content.decode()
    assert "Branding saved." in page
    name = branding_state(shop_a)
    assert name[:3] == ("Maison L.", "#102030", "#F0E0D0") and name[3].endswith(".png")
    assert 'alt="Logo of Maison Lumière"' in page
    logo = client.get(url("notifications-branding-logo", shop_a))
    assert logo.status_code == 200 and logo["Content-Type"] == "image/png"
    assert logo["X-Content-Type-Options"] == "nosniff"
    assert logo.content != original and b"someone private" not in logo.content
    with Image.open(io.BytesIO(logo.content)) as image:
        assert image.size == (30, 30)
    # Removing it.
    client.post(url("notifications-branding-save", shop_a), {**BRANDING, "remove_logo": "on"})
    assert branding_state(shop_a)[3] == ""
    assert client.get(url("notifications-branding-logo", shop_a)).status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("logo.png", b"hello, I am a text file\n" * 20, "must be a PNG, JPEG or WebP"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', "SVG"),
        ("big.png", png() + b"\x00" * (1024 * 1024), "larger than 1 MB"),
    ],
)
def test_a_refused_logo_changes_nothing(
    shop_a: Shop, owner_a: Any, name: str, data: bytes, words: str
) -> None:
    before = branding_state(shop_a)
    response = client_for(owner_a).post(
        url("notifications-branding-save", shop_a),
        {**BRANDING, "logo": SimpleUploadedFile(name, data, "image/png")},
    )
    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors["logo"])
    assert branding_state(shop_a) == before


@pytest.mark.parametrize("colour", ["red", "#12345G", "#1234567", ""])
def test_a_bad_colour_is_refused_and_nothing_changes(
    shop_a: Shop, owner_a: Any, colour: str
) -> None:
    before = branding_state(shop_a)
    response = client_for(owner_a).post(
        url("notifications-branding-save", shop_a),
        {
            **BRANDING,
            "accent_color": colour,
            "logo": SimpleUploadedFile("logo.png", png(), "image/png"),
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["accent_color"]
    assert branding_state(shop_a) == before


def test_branding_is_read_only_for_customer_service(shop_a: Shop, service_a: Any) -> None:
    client = client_for(service_a)
    page = client.get(url("notifications-branding", shop_a)).content.decode()
    assert "Save branding" not in page
    before = branding_state(shop_a)
    assert client.post(url("notifications-branding-save", shop_a), BRANDING).status_code == 403
    assert branding_state(shop_a) == before
