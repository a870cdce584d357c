from django.contrib import admin

from search.models import ApiToken, Collection, Match, QueryImage, ReferenceImage, ReindexJob


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "match_threshold", "created_at"]


@admin.register(ReferenceImage, QueryImage)
class StoredImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "collection", "status", "descriptor_version", "created_at"]
    list_filter = ["status"]
    search_fields = ["original_name", "sha256"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["query", "reference", "rank", "final_score", "descriptor_similarity", "inliers", "review"]
    list_filter = ["review", "verified"]


admin.site.register(ReindexJob)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Staff can see and revoke (set revoked_at) tokens; keys are never stored, so none can be shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["user", "prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False  # a key is created on the API tokens page or with manage.py api_token_create
