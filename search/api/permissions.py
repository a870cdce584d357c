from rest_framework import permissions


class IsStaff(permissions.BasePermission):
    """Reindex jobs are site-wide (their counts cover every team's references): staff only, as on the
    web page."""

    message = "Only staff may see or start reindex jobs."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)
