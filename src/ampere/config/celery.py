"""The Celery app (composition root). Configured from Django settings (``CELERY_*``): with
``CELERY_BROKER_URL`` set, tasks go to RabbitMQ or Redis for workers
(``celery -A ampere.config worker``); unset, they run in-process (eager)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ampere.config.settings")

app = Celery("ampere")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
