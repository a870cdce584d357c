"""Every API error is `{"code": ..., "detail": ..., "fields": {...}}` with a machine-readable `code`.

Codes (HTTP status):
  not_authenticated 401      no credentials
  authentication_failed 401  unknown or revoked token
  permission_denied 403      staff only (reindex jobs)
  role_required 403          the user's role in the object's team is too low; `required_role`, `role` and
                             `team` say which role is needed, which one the user has, in which team
  not_found 404              no such URL
  file_missing 404           the image's stored file is missing or unreadable
  unknown_collection, unknown_reference, unknown_query, unknown_match, unknown_job 404
                             the object does not exist or belongs to a team the user is not in (the same
                             answer for both, so ids of other teams' objects are not revealed)
  unknown_team 404           creating a collection in a team (slug) the user is not a member of (a
                             well-formed slug: like the ids above, not a malformed request)
  team_required 400          creating a collection without `team` while the user is admin of no team or
                             of several; `admin_teams` lists the slugs to choose from
  method_not_allowed 405, not_acceptable 406, unsupported_media_type 415, parse_error 400 (malformed JSON / multipart)
  invalid_field 400          a field is missing or has a wrong value; `fields` says which and why
  unknown_field 400          the body holds a field the endpoint does not take (a typo, most often)
  invalid_parameter 400      a query-string parameter (?wait, ?status, ?page) is wrong, or one the endpoint
                             does not take (a typo, most often)
  unknown_page 404           ?page past the last page of the list
  missing_file 400           no file in the multipart field
  bad_image 400              the file is not a usable image (empty, corrupt, unsupported, too small)
  too_large 413              the file has more bytes or pixels than the limit
  too_many_files 400         a batch holds more files than ISC_API_MAX_BATCH_FILES
  duplicate 409              the same collection name, or the same reference bytes, already exist
  bad_csv 400                the ground-truth or edits CSV does not parse (the detail names the line)
  restore_expired 409        restoring a deleted reference after its grace period (it is purged, or about to be)
  claimed_by_other 409       a verdict on an item another moderator holds (the review queue's claim);
                             `claimed_by` names them, `claimed_until` says when the claim lapses
  throttled 429              rate limit reached; Retry-After says when to come back
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, fields, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from search.core.permissions import RoleRequired
from search.review.services import ClaimedByOther

ERROR_CODES = (
    "not_authenticated",
    "authentication_failed",
    "permission_denied",
    "role_required",
    "not_found",
    "file_missing",
    "unknown_collection",
    "unknown_reference",
    "unknown_query",
    "unknown_match",
    "unknown_job",
    "unknown_team",
    "team_required",
    "method_not_allowed",
    "not_acceptable",
    "unsupported_media_type",
    "parse_error",
    "invalid_field",
    "unknown_field",
    "invalid_parameter",
    "unknown_page",
    "missing_file",
    "bad_image",
    "too_large",
    "too_many_files",
    "duplicate",
    "bad_csv",
    "restore_expired",
    "claimed_by_other",
    "throttled",
)

_STATUS_OF = {
    "too_large": status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    "duplicate": status.HTTP_409_CONFLICT,
    "restore_expired": status.HTTP_409_CONFLICT,
    "claimed_by_other": status.HTTP_409_CONFLICT,
    "role_required": status.HTTP_403_FORBIDDEN,
}


class ApiError(exceptions.APIException):
    """An error with one of the codes above; `extra` adds fields to the body (e.g. the existing id)."""

    def __init__(self, code: str, detail: str, *, status_code: int | None = None, **extra) -> None:
        assert code in ERROR_CODES, code
        super().__init__(detail=detail, code=code)
        self.status_code = status_code or _STATUS_OF.get(code, status.HTTP_400_BAD_REQUEST)
        self.error_code = code
        self.extra = extra


def not_visible(code: str, what: str, object_id: int) -> ApiError:
    return ApiError(code, f"No {what} with id {object_id} that you may see.", status_code=status.HTTP_404_NOT_FOUND)


def role_required(exc: RoleRequired) -> ApiError:
    """A role check of search.permissions (views and services raise the same one) as a 403 with the roles."""
    return ApiError(
        "role_required",
        str(exc),
        required_role=exc.minimum.value,
        role=exc.role.value if exc.role is not None else None,
        team=exc.team.slug if exc.team is not None else None,
    )


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = ApiError("not_found", "Not found.", status_code=status.HTTP_404_NOT_FOUND)
    elif isinstance(exc, RoleRequired):
        exc = role_required(exc)
    elif isinstance(exc, ClaimedByOther):
        exc = ApiError(
            "claimed_by_other",
            str(exc),
            claimed_by=exc.holder,
            claimed_until=fields.DateTimeField().to_representation(exc.until),
        )
    elif isinstance(exc, DjangoPermissionDenied):
        # DRF would turn it into its own PermissionDenied, but the body below is built from `exc`.
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (and logging) applies
    if isinstance(exc, ApiError):
        body = {"code": exc.error_code, "detail": str(exc.detail), **exc.extra}
    elif isinstance(exc, exceptions.ValidationError):
        body = _validation_body(exc)
    else:
        body = {"code": _simple_code(exc), "detail": str(exc.detail)}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        body["retry_after_seconds"] = int(exc.wait + 0.999)
    return Response(body, status=response.status_code, headers=_kept_headers(response))


def _simple_code(exc: exceptions.APIException) -> str:
    code = exc.get_codes()
    code = code if isinstance(code, str) else exc.default_code
    # DRF's own codes are already the documented ones for these exceptions.
    return code if code in ERROR_CODES else {"error": "parse_error"}.get(code, "invalid_field")


def _validation_body(exc: exceptions.ValidationError) -> dict:
    detail, codes = exc.detail, exc.get_codes()
    if not isinstance(detail, dict):  # raised without a field: a whole-body problem
        detail, codes = {"non_field_errors": detail}, {"non_field_errors": codes}
    fields = {name: _field_errors(detail[name], codes[name]) for name in detail}
    all_codes = [error["code"] for errors in fields.values() for error in errors]
    # One field error with a documented code (unknown_field, missing_file, …) names the whole error.
    code = next((c for c in all_codes if c in ERROR_CODES), "invalid_field")
    first = next(iter(fields.items()))
    message = f"{first[0]}: {first[1][0]['message']}" if first[1] else "Invalid input."
    return {"code": code, "detail": message, "fields": fields}


def _field_errors(messages, codes) -> list[dict]:
    if isinstance(messages, dict):  # a nested serializer: flatten as "inner: message"
        return [
            {"code": error["code"], "message": f"{name}: {error['message']}"}
            for name in messages
            for error in _field_errors(messages[name], codes[name])
        ]
    if not isinstance(messages, list):
        messages, codes = [messages], [codes]
    flat = []
    for message, code in zip(messages, codes, strict=True):
        if isinstance(message, (list, dict)):
            flat.extend(_field_errors(message, code))
        else:
            flat.append({"code": str(code), "message": str(message)})
    return flat


def _kept_headers(response: Response) -> dict:
    return {name: response[name] for name in ("Retry-After", "WWW-Authenticate", "Allow") if name in response}
