"""Going back to the catalog's default rules (the back office's "Reset to defaults").

A shop's own rule rows override :func:`suivi.notifications.catalog.default_enabled`;
deleting them puts every cell of the matrix back to its default (with no delay). Only the
customer channels have rules; webhooks subscribe per endpoint and are untouched.
"""

from __future__ import annotations

import logging

from django.db import transaction

from suivi.shops.models import Shop

from . import config
from .catalog import CUSTOMER_CHANNELS
from .models import NotificationRule
from .services import SYSTEM, RuleRow, _lock_shop, rules_matrix

logger = logging.getLogger("suivi.notifications")


def rules_reset(*, shop: Shop, actor: str = SYSTEM) -> list[RuleRow]:
    """Delete the shop's own rules so that the defaults apply again; return the matrix."""
    with transaction.atomic():
        _lock_shop(shop)
        deleted, _ = NotificationRule.objects.filter(
            shop=shop, channel__in=CUSTOMER_CHANNELS
        ).delete()
    config.forget(shop.pk)
    logger.info("notification rules of shop %s reset by %s: %d cells", shop.pk, actor, deleted)
    return rules_matrix(shop=shop)
