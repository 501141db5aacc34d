from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "ampere.backoffice"
    label = "backoffice"
    verbose_name = "Back office"
