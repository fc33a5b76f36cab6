from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"

    def ready(self) -> None:
        # The services queue these tasks by name (they do not import the module that imports them), so every process
        # registers them as it starts, web processes included; Celery's lazy autodiscovery only does in workers.
        from assets import tasks  # noqa: F401
