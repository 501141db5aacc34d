from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "ampere.web"
    label = "web"
    verbose_name = "Web shell"
