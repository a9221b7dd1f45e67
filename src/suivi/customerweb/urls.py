"""Customer URLs: the public tracking page, the customer space, the guide and the app shell."""

from django.urls import path

from . import views_app, views_space, views_track

app_name = "customer"

urlpatterns = [
    # Public tracking (no account): lookup, signed link, its JSON and its live stream.
    path("track/", views_track.lookup, name="lookup"),
    path("t/<str:token>.json", views_track.track_json, name="track-json"),
    path("t/<str:token>", views_track.track, name="track"),
    path("t/<str:token>/live", views_track.live_unavailable, name="track-live"),
    # The customer space (signed in).
    path("space/", views_space.orders, name="orders"),
    path("space/orders/<int:order_id>/", views_space.order_detail, name="order"),
    path("space/orders/<int:order_id>/address", views_space.address_change, name="address"),
    path("space/preferences/", views_space.preferences, name="preferences"),
    path("space/account/", views_space.account, name="account"),
    path("space/account/export.json", views_space.export, name="export"),
    path("space/account/delete", views_space.delete, name="delete"),
    path("space/push", views_space.push_subscription, name="push"),
    # The guide and the installable app.
    path("guide/", views_app.guide, name="guide"),
    path("language/", views_app.language, name="language"),
    path("manifest.webmanifest", views_app.manifest, name="manifest"),
    path("sw.js", views_app.service_worker, name="service-worker"),
]
