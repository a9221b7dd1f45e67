"""The guide ("how tracking works") and the installable app's shell: manifest and service
worker (served from the root so that its scope is the whole site)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET


@require_GET
def guide(request: HttpRequest) -> HttpResponse:
    """How tracking works, in the visitor's language (French or English)."""
    lang = translation.get_language() or "fr"
    template = "customerweb/guide_en.html" if lang.startswith("en") else "customerweb/guide_fr.html"
    return render(request, template)


@require_GET
def language(request: HttpRequest) -> HttpResponse:
    """Switch the language (a cookie) and go back. A GET link, so that pages carry no
    per-visitor token and the public tracking pages can be served as rendered once; a
    forged request can only change the display language."""
    chosen = request.GET.get("language", "")
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    if chosen in {code for code, _name in settings.LANGUAGES}:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            chosen,
            max_age=settings.LANGUAGE_COOKIE_AGE or 365 * 24 * 3600,
            samesite="Lax",
        )
    return response


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest (installable on phones and desktops)."""
    data = {
        "name": _("Suivi — my orders"),
        "short_name": "Suivi",
        "start_url": reverse("customer:orders"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": "#1F4E79",
        "lang": translation.get_language() or "fr",
        "icons": [
            {"src": static("customerweb/icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": static("customerweb/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("customerweb/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    return response


SERVICE_WORKER = """/* Suivi service worker: shows web push notifications and opens their page. */
self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data.text() }; }
  event.waitUntil(self.registration.showNotification(data.title || "Suivi", {
    body: data.body || "", tag: data.tag || undefined, data: { url: data.url || "/space/" },
    icon: "%(icon)s"
  }));
});
self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/space/";
  event.waitUntil(self.clients.matchAll({ type: "window" }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].url === url && "focus" in list[i]) return list[i].focus();
    }
    return self.clients.openWindow(url);
  }));
});
"""


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker script, at the root so that its scope covers every page."""
    body = SERVICE_WORKER % {"icon": static("customerweb/icon-192.png")}
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["Service-Worker-Allowed"] = "/"
    return response
