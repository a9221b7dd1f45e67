"""Shop API keys as bearer tokens: the key decides the shop every request acts on."""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest
from ninja.security import HttpBearer

from suivi.shops.models import ApiKey, Shop
from suivi.shops.services import api_key_authenticate

# Issued keys are ~50 characters; anything much longer is not a key, skip the lookup.
MAX_KEY_LENGTH = 200


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer <key>`` with a shop API key; missing or bad keys give 401."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        """Return the active key matching *token*, or None (ninja then answers 401)."""
        if not token or len(token) > MAX_KEY_LENGTH:
            return None
        return api_key_authenticate(secret=token)


def request_api_key(request: HttpRequest) -> ApiKey:
    """Return the API key that authenticated *request*."""
    return cast(ApiKey, request.auth)  # type: ignore[attr-defined]


def request_shop(request: HttpRequest) -> Shop:
    """Return the shop *request* acts on (loaded with the key, no extra query)."""
    return request_api_key(request).shop


def request_actor(request: HttpRequest) -> str:
    """Return the actor recorded on events written by *request*: ``api-key:<prefix>``."""
    return f"api-key:{request_api_key(request).prefix}"
