"""The Celery application for the scale-out mode (``SUIVI_TASKS=celery``).

Celery only executes: the database outbox stays the source of truth. A claiming worker
(``suivi worker``) takes due messages in batches and sends one task per batch (ids and the
claim token); any number of Celery workers, on any machines, run them. A lost task, a
broker restart or a killed Celery worker loses nothing: the claim's lease expires and the
sweep puts the messages back in the queue.

    SUIVI_TASKS=celery SUIVI_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 suivi worker
    SUIVI_CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672// suivi celery worker -c 4
"""

from __future__ import annotations

import os

import django
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "suivi.settings")
django.setup()

from django.conf import settings  # noqa: E402 - settings need django.setup() first

app = Celery("suivi")
app.conf.update(
    broker_url=settings.CELERY_BROKER_URL,
    # One queue name per installation: two Suivi installations may share a broker.
    task_default_queue=settings.SUIVI_CELERY_QUEUE,
    task_ignore_result=True,
    # A task is acknowledged after it ran: a worker killed mid-task leaves it to the broker
    # (redelivered) — and in any case to the outbox sweep.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)
app.autodiscover_tasks(["suivi.notifications", "suivi.shipments"])
