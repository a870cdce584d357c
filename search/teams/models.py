"""Teams, their members and roles, invite links, and the API keys of users."""

from django.conf import settings
from django.db import models
from django.utils import timezone

# Webhook models live in their own module; importing them here registers them with the app.


class Role(models.TextChoices):
    """Ordered: each role can do everything the roles before it can."""

    VIEWER = "viewer", "Viewer"
    UPLOADER = "uploader", "Uploader"
    MODERATOR = "moderator", "Moderator"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, minimum: "Role") -> bool:
        return self.rank >= Role(minimum).rank


class Team(models.Model):
    """Who holds what: collections, their images and matches, and the audit log belong to a team."""

    name = models.CharField(max_length=200, unique=True)
    # Also the team's folder under each ISC_IMPORT_ROOTS entry, so it never changes once created.
    slug = models.SlugField(max_length=60, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def at_least(self, minimum: Role) -> bool:
        return Role(self.role).at_least(minimum)

    # For templates, which cannot pass arguments.
    @property
    def can_upload(self) -> bool:
        return self.at_least(Role.UPLOADER)

    @property
    def can_review(self) -> bool:
        return self.at_least(Role.MODERATOR)

    @property
    def is_admin(self) -> bool:
        return self.at_least(Role.ADMIN)


class Invite(models.Model):
    """A single-use link that lets its holder join a team with a role (creating an account if needed).

    Only the SHA-256 of the token is stored; the link itself is shown once, to the admin who made it.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class ApiToken(models.Model):
    """A key for the REST API. Only its SHA-256 is stored: the key itself is shown once, when created.

    Keys are 256 random bits, so an unsalted hash is enough (no dictionary to guess from) and lets a
    request find its token with one indexed lookup.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the key, shown in the token list so a user can tell keys apart.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
