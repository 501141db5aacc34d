from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ampere.billing"
    label = "billing"
