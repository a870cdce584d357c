"""Request and response shapes of the HMA-compatible API, as HMA 2.0 documents them (facebook/ThreatExchange,
hasher-matcher-actioner: OpenMediaMatch/schemas and blueprints): errors are `{"message": ...}`, a bank is
`{"name", "matching_enabled_ratio"}`, a match `{"bank_content_id", "distance"}` with the distance as text."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from copydetect.imaging import MIN_SIDE
from search.api.serializers import StrictSerializer

# HMA's rule for bank names (blueprints/curation.py: "UPPER_WITH_UNDERSCORE"); it also keeps names that
# cannot be written in a URL path (a slash, control or unencodable characters) out of the banks.
BANK_NAME_PATTERN = "^[A-Z_][A-Z0-9_]*$"
# The signal types HMA's clients name (SSCD is looked up through the platform's own API), and their hashes.
SIGNAL_PATTERNS = {
    "pdq": "^[0-9a-fA-F]{64}$",
    "hash_pdq": "^[0-9a-fA-F]{64}$",
    "md5": "^[0-9a-fA-F]{32}$",
    "video_md5": "^[0-9a-fA-F]{32}$",
    "photo_md5": "^[0-9a-fA-F]{32}$",
    "hash_md5": "^[0-9a-fA-F]{32}$",
}
SIGNAL_PATTERN = "^([0-9a-fA-F]{32}|[0-9a-fA-F]{64})$"


def matches(pattern: str, value: str) -> bool:
    """The schema's pattern as JSON Schema reads it: the whole text (Python's `$` also allows a final newline)."""
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None


class HmaErrorSerializer(serializers.Serializer):
    message = serializers.CharField()


class HashSerializer(serializers.Serializer):
    """Signal type → signal of the uploaded picture (the keys `/m/lookup` and `/m/raw_lookup` take)."""

    pdq = serializers.CharField(help_text="64 hex digits")
    md5 = serializers.CharField(help_text="32 hex digits, of the file's bytes")


@extend_schema_field({"type": "string", "format": "binary", "x-image-min-side": MIN_SIDE})
class PhotoField(serializers.FileField):
    """A picture, at least MIN_SIDE px per side (what image_decode refuses below)."""


class HashUploadSerializer(StrictSerializer):
    photo = PhotoField(help_text="The picture (HMA's content type `photo`; `video` is not supported).")


class MatchWithDistanceSerializer(serializers.Serializer):
    bank_content_id = serializers.IntegerField()
    distance = serializers.CharField(help_text="PDQ Hamming distance, or 0 for MD5, as text (HMA's pretty_str)")


class RawLookupSerializer(serializers.Serializer):
    matches = serializers.ListField(
        child=serializers.JSONField(),
        help_text="Bank content ids, or {bank_content_id, distance} objects with include_distance=true",
    )


class BankMatchesSerializer(serializers.Serializer):
    """Bank name → its matching entries (`GET /m/lookup` with a signal)."""

    def to_representation(self, instance):
        return instance


class BankConfigSerializer(serializers.Serializer):
    name = serializers.CharField()
    matching_enabled_ratio = serializers.FloatField(help_text="1.0 for an enabled bank, 0.0 for a disabled one")


def _bank_name(value: str) -> None:
    if not matches(BANK_NAME_PATTERN, value):
        raise serializers.ValidationError("Bank name must be UPPER_WITH_UNDERSCORE (A-Z, 0-9 and _, not a digit first)")


@extend_schema_field({"type": "string", "pattern": BANK_NAME_PATTERN, "maxLength": 200})
class BankNameField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=200, trim_whitespace=False, validators=[_bank_name], **kwargs)


# A bank here is on or off: HMA's ratio is taken at 0 or 1 only (services._enabled_of refuses others).
@extend_schema_field({"type": "number", "enum": [0, 1]})
class EnabledRatioField(serializers.FloatField):
    pass


class HmaStrictSerializer(StrictSerializer):
    def _json_type_refused(self, name: str, value) -> str | None:
        # DRF reads "true" and 1 as true; the schema's boolean is a JSON boolean only.
        if isinstance(self.fields[name], serializers.BooleanField) and value is not None:
            return None if isinstance(value, bool) else "boolean"
        return super()._json_type_refused(name, value)


class BankCreateSerializer(HmaStrictSerializer):
    name = BankNameField()
    enabled_ratio = EnabledRatioField(required=False)
    enabled = serializers.BooleanField(required=False)


class BankUpdateSerializer(HmaStrictSerializer):
    name = BankNameField(required=False)
    enabled_ratio = EnabledRatioField(required=False)
    enabled = serializers.BooleanField(required=False)


class SignalsAddedSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The first new entry's id (HMA groups signals as one content; here each signal is an entry)"
    )
    signals = serializers.DictField(child=serializers.CharField())


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


def _signal_field(pattern: str) -> serializers.CharField:
    def exact(value: str) -> None:
        if not matches(pattern, value):
            raise serializers.ValidationError(f"A string matching {pattern} is expected.")

    field = serializers.CharField(required=False, trim_whitespace=False, validators=[exact])
    return extend_schema_field({"type": "string", "pattern": pattern})(field)


# Signal type → signal (HMA `POST /c/bank/<name>/signal`); used with `partial=True`, so that an empty body
# is refused (the schema's `minProperties: 1`). A comment: drf-spectacular would show a docstring.
class SignalsAddSerializer(HmaStrictSerializer):
    def get_fields(self):
        return {name: _signal_field(pattern) for name, pattern in SIGNAL_PATTERNS.items()}
