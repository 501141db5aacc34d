from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "ampere.payments"
    label = "payments"
