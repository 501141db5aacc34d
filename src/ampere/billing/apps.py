from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ampere.billing"
    label = "billing"

    def ready(self) -> None:
        # The entry points register their tasks with the Celery app; billing queues them by
        # name (``billing.queueing``), so nothing below them imports them.
        from ampere.billing import tasks  # noqa: F401
