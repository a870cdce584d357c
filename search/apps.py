from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the project's `check --deploy` checks.
        from isc_site import checks  # noqa: F401
