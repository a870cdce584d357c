"""Each user who owned collections gets a team of their own, as its admin; their collections move to it
and remember who made them (created_by)."""

from django.conf import settings
from django.db import migrations
from django.utils.text import slugify


def _unique(value: str, taken: set[str], limit: int) -> str:
    candidate, n = value[:limit], 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = value[: limit - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def owners_to_teams(apps, schema_editor):
    Collection = apps.get_model("search", "Collection")
    Team = apps.get_model("search", "Team")
    Membership = apps.get_model("search", "Membership")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    names = set(Team.objects.values_list("name", flat=True))
    slugs = set(Team.objects.values_list("slug", flat=True))
    owner_ids = Collection.objects.filter(team__isnull=True).values_list("owner_id", flat=True).distinct()
    for owner in User.objects.filter(id__in=list(owner_ids)).order_by("id"):
        team = Team.objects.create(
            name=_unique(owner.username, names, 200), slug=_unique(slugify(owner.username) or "team", slugs, 60)
        )
        Membership.objects.create(team=team, user=owner, role="admin")
        Collection.objects.filter(owner=owner, team__isnull=True).update(team=team, created_by=owner)


class Migration(migrations.Migration):
    dependencies = [("search", "0004_teams_models")]

    # Reversed by 0004's reverse step, which puts the owner back before the column is restored.
    operations = [migrations.RunPython(owners_to_teams, migrations.RunPython.noop)]
