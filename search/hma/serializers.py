"""Request and response shapes of the HMA-compatible API, as HMA 2.0 documents them (facebook/ThreatExchange,
hasher-matcher-actioner: OpenMediaMatch/schemas and blueprints): errors are `{"message": ...}`, a bank is
`{"name", "matching_enabled_ratio"}`, a match `{"bank_content_id", "distance"}` with the distance as text."""

from rest_framework import serializers


class HmaErrorSerializer(serializers.Serializer):
    message = serializers.CharField()


class HashSerializer(serializers.Serializer):
    """Signal type → signal of the uploaded picture (the keys `/m/lookup` and `/m/raw_lookup` take)."""

    pdq = serializers.CharField(help_text="64 hex digits")
    md5 = serializers.CharField(help_text="32 hex digits, of the file's bytes")


class HashUploadSerializer(serializers.Serializer):
    photo = serializers.FileField(help_text="The picture (HMA's content type `photo`; `video` is not supported).")


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


class BankCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    enabled_ratio = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    enabled = serializers.BooleanField(required=False)


class BankUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    enabled_ratio = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    enabled = serializers.BooleanField(required=False)


class SignalsAddedSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The first new entry's id (HMA groups signals as one content; here each signal is an entry)"
    )
    signals = serializers.DictField(child=serializers.CharField())


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()
