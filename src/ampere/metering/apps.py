from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "ampere.metering"
    label = "metering"
