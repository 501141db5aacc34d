from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ampere.portal"
    label = "portal"
    verbose_name = "Customer portal"
