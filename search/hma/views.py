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
from rest_framework.request import Request
from rest_framework.response import Response

from copydetect.hashlists import SignalRejected, signal_normalise
from copydetect.hashlists import SignalType as HashSignalType
from copydetect.hashlists.signal_types import signal_type_of_name
from copydetect.imaging import ImageRejected, image_decode
from copydetect.signals import image_signals_compute
from search.api.base import ApiView
from search.api.errors import exception_handler
from search.hma import selectors, services
from search.hma import serializers as s
from search.teams import selectors as teams_selectors

TAG = "HMA-compatible"
ERRORS = {code: s.HmaErrorSerializer for code in (400, 401, 403, 404)}
SIGNAL = OpenApiParameter("signal", str, required=True, description="The hash (PDQ: 64 hex, MD5: 32 hex).")
SIGNAL_TYPE = OpenApiParameter("signal_type", str, required=True, description="`pdq` or `md5` (`video_md5` too).")
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
    return response


class HmaView(ApiView):
    serializer_class = s.HmaErrorSerializer

    def get_exception_handler(self):
        return hma_exception_handler

    def team(self, request: Request, team_slug: str):
        team, _ = teams_selectors.team_get(user=request.user, slug=team_slug)
        return team


def _signal(signal_type: str, signal: str) -> tuple[str, str]:
    try:
        kind = signal_type_of_name(signal_type)
        if kind is HashSignalType.SSCD:
            raise SignalRejected("sscd is looked up through the platform's own API")
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
    @extend_schema(
        tags=[TAG],
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
        parameters=[SIGNAL, SIGNAL_TYPE, BANKS, OpenApiParameter("include_distance", bool, required=False)],
        responses={200: s.RawLookupSerializer, **ERRORS},
        description="Entries matching a hash in the team's enabled banks (HMA `GET /m/raw_lookup`).",
    )
    def get(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        kind, signal = _signal(_required(request, "signal_type"), _required(request, "signal"))
        include_distance = request.query_params.get("include_distance", "false").lower()
        if include_distance not in ("true", "false", "1", "0"):
            raise ParseError("invalid boolean parameter - prefer true/false")
        hits = selectors.hma_lookup(team=team, signal_type=kind, signal=signal, bank_ids=_banks_param(request, team))
        if include_distance in ("true", "1"):
            return Response({"matches": [{"bank_content_id": h.entry_id, "distance": str(h.distance)} for h in hits]})
        return Response({"matches": [h.entry_id for h in hits]})


class LookupView(HmaView):
    # `url` is taken so that it is refused with its own reason (HMA clients send it), not as unknown.
    query_parameters = {"GET": frozenset({"signal", "signal_type", "banks", "url"}), "POST": frozenset({"banks"})}

    @extend_schema(
        tags=[TAG],
        operation_id="hma_lookup",
        parameters=[SIGNAL, SIGNAL_TYPE, BANKS],
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
        parameters=[BANKS],
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
    @extend_schema(
        tags=[TAG], operation_id="hma_banks_list", responses={200: s.BankConfigSerializer(many=True), **ERRORS}
    )
    def get(self, request: Request, team_slug: str) -> Response:
        team = self.team(request, team_slug)
        return Response([selectors.bank_config(bank) for bank in selectors.hma_banks(user=request.user, team=team)])

    @extend_schema(
        tags=[TAG],
        operation_id="hma_banks_create",
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
    def bank(self, request: Request, team_slug: str, bank_name: str):
        bank = selectors.hma_bank_get(user=request.user, team=self.team(request, team_slug), name=bank_name)
        if bank is None:
            raise NotFound(f"bank '{bank_name}' not found")
        return bank

    @extend_schema(tags=[TAG], operation_id="hma_bank_get", responses={200: s.BankConfigSerializer, **ERRORS})
    def get(self, request: Request, team_slug: str, bank_name: str) -> Response:
        return Response(selectors.bank_config(self.bank(request, team_slug, bank_name)))

    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_update",
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

    @extend_schema(tags=[TAG], operation_id="hma_bank_delete", responses={200: s.MessageSerializer, **ERRORS})
    def delete(self, request: Request, team_slug: str, bank_name: str) -> Response:
        services.hma_bank_delete(actor=request.user, bank=self.bank(request, team_slug, bank_name))
        return Response({"message": "Done"})


class BankSignalView(BankDetailView):
    @extend_schema(
        tags=[TAG],
        operation_id="hma_bank_signal_add",
        request={"application/json": OpenApiTypes.OBJECT},
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
        signals = {}
        for name, value in request.data.items():
            if not isinstance(value, str):
                raise ParseError(f"Invalid {name} signal: a string is expected")
            try:
                kind = signal_type_of_name(name)
                signals[kind] = signal_normalise(kind, value)
            except SignalRejected as error:
                raise ParseError(f"Invalid {name} signal: {error}") from None
        entry_id = services.hma_signals_add(actor=request.user, bank=bank, signals=signals)
        return Response({"id": entry_id, "signals": {kind.value: value for kind, value in signals.items()}})


# `get`/`put`/`delete` belong to the bank, not to its signals.
BankSignalView.http_method_names = ["post", "options"]
