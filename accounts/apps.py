from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """People's own settings: the profile page, API keys and bearer tokens, login throttling."""

    name = "accounts"
