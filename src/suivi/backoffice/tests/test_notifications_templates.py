"""Notifications area: the template editor, its live preview and test sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

from suivi.notifications import services
from suivi.notifications.models import OutboxMessage, Template
from suivi.shops.models import Shop
from suivi.testing import make_order

from .support import client_for

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def url(name: str, shop: Shop, *args: str) -> str:
    return reverse(f"backoffice:{name}", args=[shop.slug, *args])


def editor(shop: Shop, event: str = "shipped", channel: str = "email", locale: str = "en") -> str:
    return url("notifications-template", shop, event, channel, locale)


def templates(shop: Shop) -> list[tuple[str, str, str, str]]:
    return list(
        Template.objects.filter(shop=shop).values_list("event_key", "channel", "locale", "subject")
    )


# --- list and editor --------------------------------------------------------------------


def test_the_list_marks_customised_templates(shop_a: Shop, service_a: Any) -> None:
    services.template_save(
        shop=shop_a,
        event_key="shipped",
        channel="sms",
        locale="fr",
        subject="",
        body_text="Colis {{ order.reference }} parti",
        body_html="",
    )
    page = client_for(service_a).get(url("notifications-templates", shop_a)).content.decode()
    assert "1 template is customised" in page
    assert 'aria-label="Shipped — SMS — FR (customised)"' in page
    assert editor(shop_a, "shipped", "sms", "fr") in page


def test_the_editor_shows_the_parts_variables_and_a_preview(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).get(editor(shop_a))
    page = response.content.decode()
    assert response.status_code == 200
    for text in ("Subject", "Text body", "HTML body", "Save template", "Preview", "Send me a test"):
        assert text in page
    assert "order.reference" in page and "tracking.url" in page  # variables
    assert "<iframe" in page and 'sandbox=""' in page and "srcdoc=" in page
    assert "Your order" in response.context["preview"]["subject"]
    assert "Reset to default" not in page  # not customised


def test_an_unknown_template_is_404(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    for args in (
        ("teleported", "email", "en"),
        ("shipped", "webhook", "en"),
        ("shipped", "email", "de"),
    ):
        assert client.get(url("notifications-template", shop_a, *args)).status_code == 404


def test_saving_a_template(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    response = client.post(
        url("notifications-template-save", shop_a, "shipped", "email", "en"),
        {"subject": "Parcel {{ order.reference }} left", "body_text": "", "body_html": ""},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == editor(shop_a)
    page = response.content.decode()
    assert "Template saved." in page and "customised" in page and "Reset to default" in page
    assert templates(shop_a) == [("shipped", "email", "en", "Parcel {{ order.reference }} left")]
    subject = response.context["preview"]["subject"]
    assert subject.startswith("Parcel ") and subject.endswith(" left") and "{{" not in subject


def test_an_invalid_template_is_refused_with_its_line(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).post(
        url("notifications-template-save", shop_a, "shipped", "email", "en"),
        {"subject": "Hi", "body_text": "Line one\n{% if %}\n", "body_html": "{{ ''.__class__ }}"},
    )
    assert response.status_code == 400
    errors = response.context["field_errors"]
    assert "line 2" in " ".join(errors["body_text"])
    assert errors["body_html"]
    assert "The template was not saved" in response.content.decode()
    assert templates(shop_a) == []


def test_an_sms_template_refuses_a_subject_part(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).post(
        url("notifications-template-save", shop_a, "shipped", "sms", "en"),
        {"body_text": "{{ no_such_thing.at_all }}"},
    )
    assert response.status_code == 400
    assert templates(shop_a) == []


def test_reset_asks_for_confirmation_then_deletes_the_override(
    shop_a: Shop, shop_b: Shop, owner_a: Any
) -> None:
    for shop in (shop_a, shop_b):
        services.template_save(
            shop=shop,
            event_key="shipped",
            channel="email",
            locale="en",
            subject="Custom",
            body_text="",
            body_html="",
        )
    client = client_for(owner_a)
    reset = url("notifications-template-reset", shop_a, "shipped", "email", "en")
    confirm = client.get(reset)
    assert confirm.status_code == 200
    assert "Reset to default" in confirm.content.decode()
    assert client.post(reset).status_code == 400  # no confirmation: nothing happens
    assert len(templates(shop_a)) == 1
    done = client.post(reset, {"confirmed": "1"}, follow=True)
    assert "The default template applies again." in done.content.decode()
    assert templates(shop_a) == []
    assert len(templates(shop_b)) == 1


def test_the_editor_is_read_only_for_customer_service(shop_a: Shop, service_a: Any) -> None:
    client = client_for(service_a)
    page = client.get(editor(shop_a)).content.decode()
    assert "Save template" not in page and "Reset to default" not in page
    assert "Preview" in page and "Send me a test" in page
    assert "disabled" in page
    save = url("notifications-template-save", shop_a, "shipped", "email", "en")
    assert client.post(save, {"subject": "x"}).status_code == 403
    assert templates(shop_a) == []


# --- preview ----------------------------------------------------------------------------


def preview_url(shop: Shop, channel: str = "email") -> str:
    return url("notifications-preview", shop, "shipped", channel, "en")


def test_the_preview_renders_unsaved_sources_on_the_sample_order(
    shop_a: Shop, owner_a: Any
) -> None:
    response = client_for(owner_a).post(
        preview_url(shop_a),
        {"subject": "Hello {{ customer.first_name }}", "body_text": "", "body_html": "<p>Hi!</p>"},
        **JSON,
    )
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["sample"] is True and data["order_reference"] == ""
    assert data["subject"].startswith("Hello ") and data["subject"] != "Hello "
    assert "<p" in data["html"] and "Hi!" in data["html"]
    assert data["text"] and data["problems"] == [] and data["used_override"] is True
    assert templates(shop_a) == []  # nothing saved


def test_the_preview_uses_a_real_order_of_the_shop(shop_a: Shop, owner_a: Any) -> None:
    order = make_order(shop_a, reference="CMD-PREVIEW-1")
    response = client_for(owner_a).post(
        preview_url(shop_a),
        {"subject": "About {{ order.reference }}", "order": "CMD-PREVIEW-1"},
        **JSON,
    )
    data = json.loads(response.content)
    assert response.status_code == 200
    assert data["subject"] == "About CMD-PREVIEW-1"
    assert data["sample"] is False and data["order_reference"] == order.reference
    assert "Claire" in data["text"] and "3 place Bellecour" in data["html"]


def test_another_shops_order_reference_is_404(shop_a: Shop, shop_b: Shop, owner_a: Any) -> None:
    make_order(shop_b, reference="CMD-OF-B")
    client = client_for(owner_a)
    response = client.post(preview_url(shop_a), {"order": "CMD-OF-B"}, **JSON)
    assert response.status_code == 404
    assert "No order" in json.loads(response.content)["error"]
    # Without JavaScript: the editor again, with the message, and still 404.
    page = client.post(preview_url(shop_a), {"subject": "Draft kept", "order": "CMD-OF-B"})
    assert page.status_code == 404
    assert "Draft kept" in page.content.decode()
    # The editor's GET with ?order= as well.
    assert client.get(editor(shop_a) + "?order=CMD-OF-B").status_code == 404


def test_the_preview_button_without_javascript_renders_the_page(shop_a: Shop, owner_a: Any) -> None:
    response = client_for(owner_a).post(
        preview_url(shop_a), {"subject": "Draft {{ order.reference }}", "preview": "1"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Draft {{ order.reference }}" in page  # the draft stays in the form
    assert response.context["preview"]["subject"].startswith("Draft ")
    assert templates(shop_a) == []


def test_an_sms_preview_counts_segments(shop_a: Shop, owner_a: Any) -> None:
    client = client_for(owner_a)
    data = json.loads(
        client.post(
            preview_url(shop_a, "sms"), {"body_text": "Parti ! {{ links.tracking }}"}, **JSON
        ).content
    )
    assert data["segments"]["encoding"] == "GSM-7"
    assert data["segments"]["segments"] == 1
    assert data["segments"]["characters"] == len(data["text"])
    long = json.loads(
        client.post(
            preview_url(shop_a, "sms"), {"body_text": "Colis ✨ " + "x" * 120}, **JSON
        ).content
    )
    assert long["segments"]["encoding"] == "UCS-2" and long["segments"]["segments"] >= 2
    page = client.get(editor(shop_a, channel="sms")).content.decode()
    assert "Segments:" in page and "GSM-7" in page


def test_a_broken_draft_previews_with_the_default_and_lists_the_problem(
    shop_a: Shop, owner_a: Any
) -> None:
    data = json.loads(
        client_for(owner_a).post(preview_url(shop_a), {"subject": "{% if %}"}, **JSON).content
    )
    assert data["problems"] and "line 1" in data["problems"][0]
    assert "Your order" in data["subject"]


def test_customer_service_previews_the_saved_template_only(shop_a: Shop, service_a: Any) -> None:
    services.template_save(
        shop=shop_a,
        event_key="shipped",
        channel="email",
        locale="en",
        subject="Saved subject",
        body_text="",
        body_html="",
    )
    data = json.loads(
        client_for(service_a).post(preview_url(shop_a), {"subject": "Not mine"}, **JSON).content
    )
    assert data["subject"] == "Saved subject"


# --- test sends -------------------------------------------------------------------------


def sending_url(shop: Shop, channel: str = "email") -> str:
    return url("notifications-test", shop, "shipped", channel, "en")


def test_a_test_goes_to_the_signed_in_members_email(shop_a: Shop, service_a: Any) -> None:
    response = client_for(service_a).post(
        sending_url(shop_a), {"to": "someone@else.example"}, follow=True
    )
    assert "A test message is on its way to " + service_a.email in response.content.decode()
    message = OutboxMessage.objects.get(shop=shop_a)
    assert message.is_test and message.recipient == service_a.email
    assert (message.channel, message.event_key, message.locale) == ("email", "shipped", "en")
    assert message.order is None


def test_a_test_sms_goes_to_the_phone_given_about_an_order(shop_a: Shop, owner_a: Any) -> None:
    order = make_order(shop_a, reference="CMD-TEST-SMS")
    client = client_for(owner_a)
    client.post(sending_url(shop_a, "sms"), {"to": "06 12 34 56 78", "order": "CMD-TEST-SMS"})
    message = OutboxMessage.objects.get(shop=shop_a)
    assert message.is_test and message.channel == "sms" and message.recipient == "+33612345678"
    assert message.order_id == order.pk


def test_bad_test_sends_are_refused_with_a_message(
    shop_a: Shop, shop_b: Shop, owner_a: Any
) -> None:
    make_order(shop_b, reference="CMD-B")
    client = client_for(owner_a)
    for channel, data in (
        ("sms", {"to": ""}),
        ("sms", {"to": "not a phone"}),
        ("email", {"order": "CMD-B"}),
        ("push", {}),
    ):
        response = client.post(sending_url(shop_a, channel), data, follow=True)
        assert response.redirect_chain, (channel, data)
        assert (
            "was not sent" in response.content.decode()
            or "Give the phone" in response.content.decode()
        )
    assert not OutboxMessage.objects.exists()


def test_too_many_tests_are_refused(shop_a: Shop, owner_a: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "MAX_TEST_MESSAGES_PER_HOUR", 1)
    client = client_for(owner_a)
    client.post(sending_url(shop_a))
    response = client.post(sending_url(shop_a), follow=True)
    assert "try again later" in response.content.decode()
    assert OutboxMessage.objects.filter(shop=shop_a, is_test=True).count() == 1
