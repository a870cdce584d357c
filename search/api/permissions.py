from rest_framework import permissions


class IsStaffToWrite(permissions.BasePermission):
    """Anyone signed in may read; only staff may start (POST) a job."""

    message = "Only staff may start this job."

    def has_permission(self, request, view) -> bool:
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)
