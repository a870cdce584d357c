from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """The worker side as a Django app: its management commands run the engines in their own process
    (DISC21 track commands, reindex, reconciliation), so the site app never imports worker code."""

    name = "workers"
    default_auto_field = "django.db.models.BigAutoField"
