from django.contrib import admin

from search.collection.models import Collection, ReferenceImage
from search.core.models import AuditEvent
from search.ingest.models import IngestError, IngestJob
from search.queries.models import Match, QueryImage
from search.reindex.models import ReindexJob
from search.teams.models import ApiToken, Invite, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["team", "role", "created_by", "created_at", "expires_at", "accepted_by"]
    readonly_fields = ["token_sha256"]


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "created_by", "match_threshold", "created_at"]
    list_filter = ["team"]


@admin.register(ReferenceImage, QueryImage)
class StoredImageAdmin(admin.ModelAdmin):
    list_display = ["original_name", "collection", "status", "descriptor_version", "created_at"]
    list_filter = ["status"]
    search_fields = ["original_name", "sha256"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["query", "reference", "rank", "final_score", "descriptor_similarity", "inliers", "review"]
    list_filter = ["review", "verified"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, so the admin can look but never add, change or delete."""

    list_display = ["created_at", "team", "actor_username", "action", "target_type", "target_id", "target_repr"]
    list_filter = ["action", "team"]
    search_fields = ["actor_username", "target_repr"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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


class IngestErrorInline(admin.TabularInline):
    model = IngestError
    extra = 0
    fields = readonly_fields = ["position", "name", "reason"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(IngestJob)
class IngestJobAdmin(admin.ModelAdmin):
    """Read-only: jobs are started from the collection page or `manage.py ingest` (which check roles and
    audit the start) and move only through their chunks; staff may look, and delete an old job's record
    (its references stay)."""

    list_display = [
        "id",
        "collection",
        "source_kind",
        "source_name",
        "state",
        "done",
        "total",
        "created",
        "failed",
        "created_by",
        "created_at",
    ]
    list_filter = ["state", "source_kind"]
    search_fields = ["source_name", "source_path", "collection__name", "collection__team__slug"]
    list_select_related = ["collection", "created_by"]
    inlines = [IngestErrorInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the view permission still shows every field
