"""How the OpenAPI schema describes what drf-spectacular cannot see: request bodies of StrictSerializer
refuse fields they do not declare (`unknown_field`), so their schemas say `additionalProperties: false`;
a partial update names at least one field (`minProperties: 1`).
drf-spectacular finds the extension by `target_class` once this module is imported (search/api/urls.py)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension


class StrictSerializerSchema(OpenApiSerializerExtension):
    target_class = "search.api.serializers.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if getattr(self.target, "partial", False):
            schema = {**schema, "minProperties": 1}  # StrictSerializer.validate refuses an empty update
        return {**schema, "additionalProperties": False}
