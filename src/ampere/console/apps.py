from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "ampere.console"
    label = "console"
    verbose_name = "Staff console"
