from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "ampere.cli"
    label = "cli"
