"""Values every template reads."""

from django.conf import settings


def site_flags(request):
    """Switches the base template reads on every page."""
    return {"open_signup": settings.ISC.open_signup}
