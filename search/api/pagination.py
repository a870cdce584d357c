from django.conf import settings
from rest_framework import pagination, status
from rest_framework.exceptions import NotFound

from search.api.errors import ApiError


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page=N&page_size=M` (M at most 200); the body holds count, next, previous and results.

    A malformed number is `invalid_parameter` (400); a well-formed page past the last one is
    `unknown_page` (404), as the schema's bounds cannot know how many pages there are."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.ISC_API["PAGE_SIZE"]
        if not _whole(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise ApiError("invalid_parameter", f"page_size must be a whole number from 1 to {self.max_page_size}.")
        return int(raw)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        # DRF would read an empty `page` as 1 and take "last"; the schema allows neither.
        if raw is not None and (not _whole(raw) or int(raw) < 1):
            raise ApiError("invalid_parameter", "page must be a whole number from 1.")
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ApiError("unknown_page", f"There is no page {raw}.", status_code=status.HTTP_404_NOT_FOUND) from None

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            _query_parameter(self.page_query_param, "The page number, from 1.", {"type": "integer", "minimum": 1}),
            _query_parameter(
                self.page_size_query_param,
                f"Results per page (default ISC_API_PAGE_SIZE, at most {self.max_page_size}).",
                {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            ),
        ]


def _whole(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def _query_parameter(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "required": False, "in": "query", "description": description, "schema": schema}
