"""The HMA-compatible API under /hma/<team>/: what HMA 2.0's clients call (hashing, lookup, banks and
their signals), answered from this team's banks. Token auth as the rest of the API; any member hashes
and looks up, admins change banks. Errors are HMA's `{"message": ...}`."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.metadata import SimpleMetadata
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from copydetect.hashlists import SignalRejected, signal_normalise
from copydetect.hashlists.signal_types import signal_type_of_name
from copydetect.imaging import ImageRejected, image_decode
from copydetect.signals import image_signals_compute
from search.api.base import ApiView
from search.api.errors import exception_handler
from search.hma import selectors, services
from search.hma import serializers as s
from search.teams import selectors as teams_selectors

TAG = "HMA-compatible"
ERRORS = {code: s.HmaErrorSerializer for code in (400, 401, 403, 404, 405, 406, 415)}
TEAM_SLUG = OpenApiParameter(
    "team_slug", str, OpenApiParameter.PATH, pattern="^[-a-zA-Z0-9_]+$", description="The team's slug."
)
BANK_NAME = OpenApiParameter(
    "bank_name", str, OpenApiParameter.PATH, pattern="^[^/]+$", description="The bank's name in the team."
)
SIGNAL = OpenApiParameter(
    "signal",
    str,
    required=True,
    pattern=s.SIGNAL_PATTERN,
    description="The hash, of the signal type's length (PDQ: 64 hex, MD5: 32 hex; another length: 400).",
)
SIGNAL_TYPE = OpenApiParameter(
    "signal_type", str, required=True, enum=sorted(s.SIGNAL_PATTERNS), description="The signal type's name."
)
INCLUDE_DISTANCE = OpenApiParameter(
    "include_distance", str, required=False, enum=["true", "false", "1", "0"], description="Default false."
)
BANKS = OpenApiParameter("banks", str, required=False, description="Comma-separated bank names to search only.")
LOOKUP_EXAMPLE = OpenApiExample(
    "matches",
    value={"NCMEC_LIST": [{"bank_content_id": 1001, "distance": "4"}, {"bank_content_id": 1002, "distance": "0"}]},
)


def hma_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "message" not in response.data:
        detail = response.data.get("detail") or response.data
        response.data = {"message": detail if isinstance(detail, str) else str(detail)}
    if response is not None and isinstance(response.data, dict) and isinstance(response.data.get("message"), str):
        # A message that quotes the request (an unknown field's name) may hold a lone surrogate from the
        # JSON body, which UTF-8 cannot encode: written escaped, not a 500 in the renderer.
        response.data["message"] = response.data["message"].encode("utf-8", "backslashreplace").decode("utf-8")
    return response


class HmaMetadata(SimpleMetadata):
    """OPTIONS names the view only: SimpleMetadata's `actions` would build the PUT form through
    get_object, which these views (no queryset) do not have."""

    def determine_actions(self, request, view):
        return {}


class HmaView(ApiView):
    """The HMA-compatible API: token auth, errors as `{"message": ...}`, no paging (HMA's lists are whole)."""

    serializer_class = s.HmaErrorSerializer
    pagination_class = None
    metadata_class = HmaMetadata

    def get_exception_handler(self):
        return hma_exception_handler

    def team(self, request: Request, team_slug: str):
        team, _ = teams_selectors.team_get(user=request.user, slug=team_slug)
        return team


def _signal(signal_type: str, signal: str) -> tuple[str, str]:
    """The signal as the schema takes it: a listed type's exact name and its hash, nothing around it."""
    if signal_type not in s.SIGNAL_PATTERNS:
        known = ", ".join(sorted(s.SIGNAL_PATTERNS))
        raise ParseError(f"invalid signal: unknown signal type {signal_type!r} (known: {known})")
    kind = signal_type_of_name(signal_type)
    if not s.matches(s.SIGNAL_PATTERNS[signal_type], signal):
        raise ParseError(f"invalid signal: a {signal_type} signal matches {s.SIGNAL_PATTERNS[signal_type]}")
    try:
        return kind.value, signal_normalise(kind, signal)
    except SignalRejected as error:
        raise ParseError(f"invalid signal: {error}") from None


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None:
        raise ParseError(f"{name} is required")
    return value


def _banks_param(request: Request, team) -> set[int] | None:
    names = request.query_params.get("banks")
    return None if not names else selectors.bank_ids_named(team=team, names=names.split(","))


def _photo_signals(request: Request) -> dict[str, str]:
    if "video" in request.FILES:
        raise ParseError("no such content_type: 'video' (pictures only)")
    s.HashUploadSerializer(data=request.data).is_valid(raise_exception=True)
    upload = request.FILES.get("photo")
    if upload is None or len(request.FILES) != 1:
        raise ParseError("Missing multipart/form-data file upload: one file in the `photo` field")
    if upload.size > settings.ISC.max_upload_bytes:
        raise ParseError("file too large")
    data = upload.read()
    try:
        decoded = image_decode(data, max_pixels=settings.ISC.max_image_pixels)
    except ImageRejected as error:
        raise ParseError(str(error)) from None
    signals = image_signals_compute(image=decoded.image, data=data)
    return {"pdq": signals.pdq, "md5": signals.md5}


class HashView(HmaView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=[TAG],
        parameters=[TEAM_SLUG],
        operation_id="hma_hash",
        request={"multipart/form-data": s.HashUploadSerializer},
        responses={200: s.HashSerializer, **ERRORS},
        description="Hashes an uploaded picture: PDQ and MD5 (HMA `POST /h/hash`).",
    )
    def post(self, request: Request, team_slug: str) -> Response:
        self.team(request, team_slug)
        return Response(_photo_signals(request))


class RawLookupView(HmaView):
    query_parameters = {"GET": frozenset({"signal", "signal_type", "banks", "include_distance"})}

    @extend_schema(
        tags=[TAG],
        operation_id="hma_raw_lookup",
        parameters=[TEAM_SLUG, SIGNAL, SIGNAL_TYPE, BANKS, INCLUDE_DISTANCE],
        responses={200: s.RawLookupSerializer, **ERRORS},
        description="Entries matching a hash in the team's enabled banks (HMA `GET /m/raw_lookup`).",
    )
    def get(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        kind, signal = _signal(_required(request, "signal_type"), _required(request, "signal"))
        include_distance = request.query_params.get("include_distance", "false")
        if include_distance not in INCLUDE_DISTANCE.enum:
            raise ParseError("invalid boolean parameter - prefer true/false")
        hits = selectors.hma_lookup(team=team, signal_type=kind, signal=signal, bank_ids=_banks_param(request, team))
        if include_distance in ("true", "1"):
            return Response({"matches": [{"bank_content_id": h.entry_id, "distance": str(h.distance)} for h in hits]})
        return Response({"matches": [h.entry_id for h in hits]})


class LookupView(HmaView):
    parser_classes = [MultiPartParser]

    # `url` is taken so that it is refused with its own reason (HMA clients send it), not as unknown.
    query_parameters = {"GET": frozenset({"signal", "signal_type", "banks", "url"}), "POST": frozenset({"banks"})}

    @extend_schema(
        tags=[TAG],
        operation_id="hma_lookup",
        parameters=[TEAM_SLUG, SIGNAL, SIGNAL_TYPE, BANKS],
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Bank name → [{bank_content_id, distance}]", examples=[LOOKUP_EXAMPLE]
            ),
            **ERRORS,
        },
        description="Banks a hash matches, with the matching entries (HMA `GET /m/lookup`).",
    )
    def get(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        if request.query_params.get("url"):
            raise ParseError("lookup by url is not offered: POST the picture, or send signal and signal_type")
        kind, signal = _signal(_required(request, "signal_type"), _required(request, "signal"))
        return Response(
            selectors.hma_lookup_by_bank(
                team=team, signal_type=kind, signal=signal, bank_ids=_banks_param(request, team)
            )
        )

    @extend_schema(
        tags=[TAG],
        operation_id="hma_lookup_upload",
        parameters=[TEAM_SLUG, BANKS],
        request={"multipart/form-data": s.HashUploadSerializer},
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description="Signal type → bank name → [{bank_content_id, distance}]"
            ),
            **ERRORS,
        },
        description="Hashes an uploaded picture and looks each signal up (HMA `POST /m/lookup`).",
    )
    def post(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        banks = _banks_param(request, team)
        return Response(
            {
                kind: selectors.hma_lookup_by_bank(team=team, signal_type=kind, signal=signal, bank_ids=banks)
                for kind, signal in _photo_signals(request).items()
            }
        )


class BankListView(HmaView):
    parser_classes = [JSONParser]  # HMA's bank bodies are JSON

    @extend_schema(
        tags=[TAG],
        operation_id="hma_banks_list",
        parameters=[TEAM_SLUG],
        responses={200: s.BankConfigSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        return Response([selectors.bank_config(bank) for bank in selectors.hma_banks(user=request.user, team=team)])

    @extend_schema(
        tags=[TAG],
        operation_id="hma_banks_create",
        parameters=[TEAM_SLUG],
        request=s.BankCreateSerializer,
        responses={201: s.BankConfigSerializer, **ERRORS},
        description="Creates a bank (admins). A name the team has already: 403, as HMA.",
    )
    def post(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        body = s.BankCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            bank = services.hma_bank_create(actor=request.user, team=team, **body.validated_data)
        except IntegrityError:
            return Response({"message": "Bank already exists"}, status=status.HTTP_403_FORBIDDEN)
        return Response(selectors.bank_config(bank), status=status.HTTP_201_CREATED)


class BankDetailView(HmaView):
    parser_classes = [JSONParser]

    def bank(self, request: Request, team_slug: str, bank_name: str):
        bank = selectors.hma_bank_get(user=request.user, team=self.team(request, team_slug), name=bank_name)
        if bank is None:
            raise NotFound(f"bank '{bank_name}' not found")
        return bank

    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_get",
        parameters=[TEAM_SLUG, BANK_NAME],
        responses={200: s.BankConfigSerializer, **ERRORS},
    )
    def get(self, request: Request, team_slug: str, bank_name: str) -> Response:
        return Response(selectors.bank_config(self.bank(request, team_slug, bank_name)))

    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_update",
        parameters=[TEAM_SLUG, BANK_NAME],
        request=s.BankUpdateSerializer,
        responses={200: s.BankConfigSerializer, **ERRORS},
    )
    def put(self, request: Request, team_slug: str, bank_name: str) -> Response:
        bank = self.bank(request, team_slug, bank_name)
        body = s.BankUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            bank = services.hma_bank_update(actor=request.user, bank=bank, **body.validated_data)
        except IntegrityError:
            return Response({"message": "Bank name already exists"}, status=status.HTTP_403_FORBIDDEN)
        return Response(selectors.bank_config(bank))

    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_delete",
        parameters=[TEAM_SLUG, BANK_NAME],
        responses={200: s.MessageSerializer, **ERRORS},
    )
    def delete(self, request: Request, team_slug: str, bank_name: str) -> Response:
        services.hma_bank_delete(actor=request.user, bank=self.bank(request, team_slug, bank_name))
        return Response({"message": "Done"})


class BankSignalView(BankDetailView):
    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_signal_add",
        parameters=[TEAM_SLUG, BANK_NAME],
        request={"application/json": s.SignalsAddSerializer(partial=True)},
        responses={200: s.SignalsAddedSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "signals", value={"pdq": "f" * 64, "md5": "d41d8cd98f00b204e9800998ecf8427e"}, request_only=True
            )
        ],
        description="Adds signals to a bank, `{signal type: signal}` (HMA `POST /c/bank/<name>/signal`; admins).",
    )
    def post(self, request: Request, team_slug: str, bank_name: str) -> Response:
        bank = self.bank(request, team_slug, bank_name)
        if not isinstance(request.data, dict) or not request.data:
            raise ValidationError("No signals given")
        s.SignalsAddSerializer(data=request.data, partial=True).is_valid(raise_exception=True)
        signals = {}
        for name, value in request.data.items():  # in the client's order: the first one's id is answered
            try:
                kind = signal_type_of_name(name)
                signals[kind] = signal_normalise(kind, value)
            except SignalRejected as error:
                raise ParseError(f"Invalid {name} signal: {error}") from None
        entry_id = services.hma_signals_add(actor=request.user, bank=bank, signals=signals)
        return Response({"id": entry_id, "signals": {kind.value: value for kind, value in signals.items()}})


# `get`/`put`/`delete` belong to the bank, not to its signals.
BankSignalView.http_method_names = ["post", "options"]


@extend_schema(exclude=True)
class HmaNotFoundView(HmaView):
    """Any other path under /hma/ (an unknown team slug's shape, a bank name with a slash): HMA's JSON
    error, not the site's HTML page."""

    permission_classes = []
    query_parameters = None

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise NotFound(f"No HMA endpoint at {request.path}")

    get = post = put = patch = delete = _not_found
