from django.contrib import admin

from search.models import Collection, Match, QueryImage, ReferenceImage, ReindexJob


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
