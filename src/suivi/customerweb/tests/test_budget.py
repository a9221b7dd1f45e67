"""The customer pages stay light and self-contained: under 50 KB of JavaScript and CSS in
all, every asset served by Suivi itself (no CDN, no third-party origin)."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.test import Client

from suivi.notifications import links

from .support import customer_user, shipped_order

BUDGET_BYTES = 50 * 1024


def _assets(html: str) -> set[str]:
    return set(re.findall(r'<(?:script[^>]+src|link[^>]+href)="([^"]+)"', html))


def test_pages_reference_under_50_kb_of_js_and_css_all_from_this_server(shop_a) -> None:
    order = shipped_order(shop_a)
    client = Client()
    pages = [client.get(f"/t/{links.tracking_token(order.pk)}"), client.get("/track/"),
             client.get("/guide/"), client.get("/accounts/login/")]  # fmt: skip
    client.force_login(customer_user(order))
    pages += [client.get("/space/"), client.get(f"/space/orders/{order.pk}/"),
              client.get("/space/account/")]  # fmt: skip
    assets: set[str] = set()
    for response in pages:
        assert response.status_code == 200
        html = response.content.decode()
        assert "//" not in "".join(a for a in _assets(html) if not a.startswith("/")), html
        assert not re.search(r'(src|href)="(https?:)?//', html.split("<main")[0])
        assets |= _assets(html)
    code = [a for a in assets if a.endswith((".js", ".css"))]
    assert code, assets
    total = 0
    for url in code:
        path = finders.find(url.removeprefix("/static/"))
        assert path, url
        with open(path, "rb") as handle:
            total += len(handle.read())
    sw = client.get("/sw.js")
    total += len(sw.content)
    assert total < BUDGET_BYTES, f"{total} bytes of JS and CSS"
