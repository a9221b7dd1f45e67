"""Customer claims: incidents with photos, a ticket thread with the merchant, resolutions."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def purge_orphan_photos() -> int:
    """Worker job: delete photo files that no claim row points to any more."""
    from .services import claim_photos_purge_orphans

    return claim_photos_purge_orphans()


class ClaimsConfig(AppConfig):
    name = "suivi.claims"
    label = "claims"
    verbose_name = _("Claims")

    def ready(self) -> None:
        from suivi.core.worker import register_job

        register_job("claims.purge_orphan_photos", 6 * 3600.0, purge_orphan_photos)
