from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ampere.accounts"
    label = "accounts"
