from django.apps import AppConfig


class UploadsConfig(AppConfig):
    name = "uploads"

    def ready(self) -> None:
        """Hooks the uploads app into the assets app below it, which never imports it (docs/ARCHITECTURE.md, "Layers"):
        a settled file may complete its session, and originals imported by reference are read through their bucket."""
        # Here, not at the top: Django imports apps.py before any model can be loaded.
        from assets import signals, storage
        from uploads import integrations, services, tasks  # noqa: F401 (tasks: registered for queueing by name)

        signals.settled.connect(services.on_asset_settled, dispatch_uid="uploads.session_completes")
        storage.register_reference_reader(integrations.BucketReferences())
