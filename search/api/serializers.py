"""What the API reads and writes. Output serializers describe rows; input serializers check bodies and
refuse fields they do not know (a misspelt field is an error, not silently ignored)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from copydetect.imaging import MIN_SIDE
from search.api.errors import ERROR_CODES
from search.collection import selectors as collection_selectors
from search.collection.models import Collection, ReferenceImage
from search.collection.services import grace_period as reference_grace_period
from search.queries import selectors as queries_selectors
from search.queries.models import Match, QueryImage
from search.review.models import ReviewDecision
from search.teams.models import Role, Team

# --- Input ---------------------------------------------------------------------------------------


# Refuses fields it does not know (the schema says `additionalProperties: false`, see search/api/schema.py)
# and, in form bodies, empty values of fields that may not be blank. (A comment: drf-spectacular would show
# a docstring as the description of every request body.)
class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data):
        known = set(self.fields)
        unknown = sorted(key for key in getattr(data, "keys", lambda: [])() if key not in known)
        if unknown:
            raise serializers.ValidationError(
                {key: [serializers.ErrorDetail("Unknown field.", code="unknown_field")] for key in unknown}
            )
        if html.is_html_input(data):
            blank = sorted(name for name in data if data.get(name) == "" and self._blank_refused(name))
            if blank:
                raise serializers.ValidationError(
                    {name: [serializers.ErrorDetail("This field may not be empty.", code="blank")] for name in blank}
                )
        elif isinstance(data, dict):
            mistyped = {name: kind for name in sorted(data) if (kind := self._json_type_refused(name, data[name]))}
            if mistyped:
                raise serializers.ValidationError(
                    {
                        name: [serializers.ErrorDetail(f"Expected a {kind}, as the schema says.", code="invalid")]
                        for name, kind in mistyped.items()
                    }
                )
        return super().to_internal_value(data)

    def validate(self, attrs: dict) -> dict:
        # A partial update that names no field changes nothing: a client mistake (or a body that did not
        # parse into fields), refused as the schema's `minProperties: 1` says.
        if self.partial and not attrs:
            raise serializers.ValidationError(f"Send at least one of {', '.join(self.fields)}.", code="empty")
        return super().validate(attrs)

    def _json_type_refused(self, name: str, value) -> str | None:
        # DRF coerces JSON values (false is the number 0.0, 5 the string "5"); the schema's types do not.
        field = self.fields[name]
        if value is None:
            return None  # DRF's own null check names the field
        if isinstance(field, (serializers.FloatField, serializers.IntegerField)):
            return "number" if isinstance(value, bool) or not isinstance(value, (int, float)) else None
        if isinstance(field, (serializers.CharField, serializers.ChoiceField)):
            return "string" if not isinstance(value, str) else None
        return None

    def _blank_refused(self, name: str) -> bool:
        # DRF reads an empty form value of an optional field as "left out" (so `team=` silently picked the
        # user's only team); the schema, like a JSON body, calls it an empty string, which these fields refuse.
        field = self.fields[name]
        return not isinstance(field, UploadField) and not getattr(field, "allow_blank", False)


class UploadField(serializers.FileField):
    """A multipart file; an absent one is `missing_file`. Size and content are checked by the upload
    services, exactly as for the web pages."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_empty_file", True)  # an empty file is a bad image, said by the service
        super().__init__(**kwargs)

    def run_validation(self, data=empty):
        if self.required and data in (empty, None, ""):
            raise serializers.ValidationError("No file was sent in this field.", code="missing_file")
        return super().run_validation(data)


IMAGE_FILE_SCHEMA = {
    "type": "string",
    "format": "binary",
    # What a JSON schema cannot say about the bytes, for clients and for the Schemathesis run of the
    # suite (tests/search/api/schemathesis_hooks.py sends images that honour it).
    "x-image-min-side": MIN_SIDE,
}


@extend_schema_field(IMAGE_FILE_SCHEMA)
class ImageUploadField(UploadField):
    """An image file: JPEG, PNG, WebP, GIF, BMP or TIFF, at least MIN_SIDE px per side."""


class CollectionWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    match_threshold = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        help_text="A match whose final score reaches this value counts as a copy (0–1).",
    )

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The name is blank.", code="blank")
        return value.strip()


class CollectionCreateSerializer(CollectionWriteSerializer):
    team = serializers.SlugField(
        required=False,
        help_text=(
            "Slug of the team that will hold the collection (you need the admin role there); may be left out "
            "when you are admin of exactly one team."
        ),
    )


IMAGE_HELP = f"at least {MIN_SIDE} px per side; at most ISC_MAX_UPLOAD_BYTES and ISC_MAX_IMAGE_PIXELS"


class ReferenceUploadSerializer(StrictSerializer):
    file = ImageUploadField(help_text=f"One image file ({IMAGE_HELP}).")


@extend_schema_field(
    {"type": "array", "items": IMAGE_FILE_SCHEMA, "minItems": 1, "maxItems": settings.ISC_API["MAX_BATCH_FILES"]}
)
class ImageListField(serializers.ListField):
    """Image files in one multipart field; more than ISC_API_MAX_BATCH_FILES is `too_many_files`."""


class ReferenceBatchSerializer(StrictSerializer):
    files = ImageListField(
        child=ImageUploadField(),
        allow_empty=False,
        help_text=f"Image files ({IMAGE_HELP}): repeat the `files` field once per file.",
    )

    def validate_files(self, files: list) -> list:
        limit = settings.ISC_API["MAX_BATCH_FILES"]
        if len(files) > limit:
            raise serializers.ValidationError(
                f"{len(files)} files in one batch; the limit is {limit}.", code="too_many_files"
            )
        return files

    def to_internal_value(self, data):
        if hasattr(data, "getlist") and not data.getlist("files"):
            raise serializers.ValidationError(
                {"files": [serializers.ErrorDetail("No file was sent in this field.", code="missing_file")]}
            )
        return super().to_internal_value(data)


class QueryUploadSerializer(StrictSerializer):
    file = ImageUploadField(help_text=f"The query image ({IMAGE_HELP}).")


class VerdictSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=[ReviewDecision.CONFIRMED.value, ReviewDecision.REJECTED.value])


# --- Output --------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=ERROR_CODES)
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField(child=serializers.CharField())),
        required=False,
        help_text="For invalid_field and the like: field name → [{code, message}].",
    )
    required_role = serializers.ChoiceField(
        choices=Role.choices, required=False, help_text="role_required: the least role the action needs."
    )
    role = serializers.ChoiceField(
        choices=Role.choices,
        required=False,
        allow_null=True,
        help_text="role_required: your role in the team (null: not a member).",
    )
    team = serializers.CharField(required=False, allow_null=True, help_text="role_required: the team's slug.")
    admin_teams = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="team_required: slugs of the teams you are admin of, to pass as `team`.",
    )
    existing_id = serializers.IntegerField(
        required=False, allow_null=True, help_text="duplicate (reference upload): the reference with these bytes."
    )
    retry_after_seconds = serializers.IntegerField(required=False, help_text="throttled: when to come back.")
    claimed_by = serializers.CharField(required=False, help_text="claimed_by_other: the moderator holding the item.")
    claimed_until = serializers.DateTimeField(required=False, help_text="claimed_by_other: when their claim lapses.")


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    indexed = serializers.IntegerField()
    pending = serializers.IntegerField()
    processing = serializers.IntegerField()
    failed = serializers.IntegerField()
    percent = serializers.IntegerField()
    finished = serializers.BooleanField()


# Model fields as the API shows them. Integer bounds that Django takes from the database backend
# (PostgreSQL: 32767 for a small integer; SQLite: 2**63 - 1) are left out, so the schema is the same on
# every database; the database still enforces them. (A comment, not a docstring: drf-spectacular would
# show a docstring as the description of every serializer below.)
class ReadModelSerializer(serializers.ModelSerializer):
    def build_standard_field(self, field_name, model_field):
        field_class, field_kwargs = super().build_standard_field(field_name, model_field)
        if isinstance(model_field, models.IntegerField):
            field_kwargs.pop("max_value", None)
            if field_kwargs.get("min_value") is not None and field_kwargs["min_value"] < 0:
                field_kwargs.pop("min_value")
        return field_class, field_kwargs


class TeamSerializer(ReadModelSerializer):
    role = serializers.ChoiceField(choices=Role.choices, help_text="Your role in the team.")
    member_count = serializers.IntegerField()

    class Meta:
        model = Team
        fields = ["slug", "name", "role", "member_count", "created_at"]


class CollectionSerializer(ReadModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text="The team's slug.")
    reference_count = serializers.SerializerMethodField()
    query_count = serializers.SerializerMethodField()

    class Meta:
        model = Collection
        fields = [
            "id",
            "team",
            "name",
            "description",
            "match_threshold",
            "created_at",
            "reference_count",
            "query_count",
        ]

    def get_reference_count(self, collection: Collection) -> int:
        count = getattr(collection, "reference_count", None)  # annotated by selectors.collection_list
        return collection.references.count() if count is None else count

    def get_query_count(self, collection: Collection) -> int:
        count = getattr(collection, "query_count", None)
        return collection.queries.count() if count is None else count


class CollectionDetailSerializer(CollectionSerializer):
    progress = serializers.SerializerMethodField(help_text="Indexing progress of the collection's references.")

    class Meta(CollectionSerializer.Meta):
        fields = [*CollectionSerializer.Meta.fields, "progress"]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, collection: Collection) -> dict:
        return ProgressSerializer(collection_selectors.reference_progress(collection=collection)).data


class _StoredImageSerializer(ReadModelSerializer):
    file_url = serializers.SerializerMethodField(
        help_text="The image through the API (token accepted); add ?variant=thumb or preview for a JPEG."
    )
    file_route = ""

    def get_file_url(self, image) -> str:
        request = self.context.get("request")
        url = reverse(self.file_route, args=[image.id])
        return request.build_absolute_uri(url) if request else url


class ReferenceSerializer(_StoredImageSerializer):
    file_route = "api:reference_file"
    purge_after = serializers.SerializerMethodField(
        help_text="When a deleted reference is purged for good (null while it is not deleted)."
    )

    def get_purge_after(self, reference) -> datetime | None:
        return reference.deleted_at + reference_grace_period() if reference.deleted_at else None

    class Meta:
        model = ReferenceImage
        fields = [
            "id",
            "collection",
            "original_name",
            "sha256",
            "width",
            "height",
            "status",
            "error",
            "descriptor_version",
            "created_at",
            "processed_at",
            "deleted_at",
            "purge_after",
            "file_url",
        ]


class RejectionSerializer(serializers.Serializer):
    name = serializers.CharField()
    code = serializers.CharField(help_text="too_large, bad_image, unsafe_path or not_accepted.")
    reason = serializers.CharField()


class UploadReportSerializer(serializers.Serializer):
    created = ReferenceSerializer(many=True)
    duplicates = serializers.ListField(child=serializers.CharField(), help_text="Names already in the collection.")
    rejected = RejectionSerializer(many=True)


class MatchReferenceSerializer(ReadModelSerializer):
    bank = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="The hash bank when the reference is a bank entry (no picture), else null.",
    )
    signal_type = serializers.CharField(
        read_only=True, help_text="A bank entry's signal: pdq, md5 or sscd; empty for a picture."
    )
    external_id = serializers.CharField(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ReferenceImage
        fields = ["id", "original_name", "width", "height", "bank", "signal_type", "external_id", "tags"]


class MatchSerializer(ReadModelSerializer):
    reference = MatchReferenceSerializer()
    is_copy = serializers.SerializerMethodField(help_text="final_score reaches the collection's threshold.")
    reviewed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    keypoint_pairs = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4),
        help_text="Inlier keypoint pairs [qx, qy, rx, ry], coordinates normalised to [0, 1] of each image.",
    )

    class Meta:
        model = Match
        fields = [
            "id",
            "query",
            "reference",
            "rank",
            "final_score",
            "is_copy",
            "descriptor_similarity",
            "verified",
            "inliers",
            "verification_score",
            "keypoint_pairs",
            "matched_by",
            "hash_distance",
            "hash_threshold",
            "descriptor_version",
            "review",
            "reviewed_by",
            "reviewed_at",
        ]

    def get_is_copy(self, match: Match) -> bool:
        return match.final_score >= match.query.collection.match_threshold


class QuerySerializer(_StoredImageSerializer):
    file_route = "api:query_file"
    finished = serializers.SerializerMethodField(help_text="The search is over (status indexed or failed).")

    class Meta:
        model = QueryImage
        fields = [
            "id",
            "collection",
            "original_name",
            "sha256",
            "width",
            "height",
            "status",
            "finished",
            "error",
            "search_ms",
            "descriptor_version",
            "created_at",
            "processed_at",
            "file_url",
        ]

    def get_finished(self, query: QueryImage) -> bool:
        return query.status in queries_selectors.QUERY_FINISHED


class QueryResultSerializer(QuerySerializer):
    """A query with its matches, best first (empty until the search has finished)."""

    matches = serializers.SerializerMethodField()

    class Meta(QuerySerializer.Meta):
        fields = [*QuerySerializer.Meta.fields, "matches"]

    @extend_schema_field(MatchSerializer(many=True))
    def get_matches(self, query: QueryImage) -> list[dict]:
        return MatchSerializer(queries_selectors.match_list(query=query), many=True, context=self.context).data
