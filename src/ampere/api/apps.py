from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ampere.api"
    label = "api"
