"""The home page a newcomer opens after `make run`."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "API documentation"), ("fr", "Documentation de l’API")],
)
def test_the_home_page_links_the_api_docs_and_admin_in_the_visitors_language(
    client: Client, language: str, expected: str
) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 200
    body = response.content.decode()
    assert expected in body
    assert 'href="/api/v1/docs"' in body
    assert 'href="/admin/"' in body
