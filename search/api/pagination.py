from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import NotFound

from search.api.errors import ApiError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (M at most 200); the body holds count, next, previous and results."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.ISC_API["PAGE_SIZE"]
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ApiError("invalid_parameter", f"page_size must be a whole number from 1 to {self.max_page_size}.")
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:  # DRF's answer to a page out of range or not a number
            raise ApiError("invalid_parameter", f"page: {exc.detail}") from None
