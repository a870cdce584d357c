"""Collections belong to a team only: the owner column goes (0003 moved it to created_by)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def teams_to_owners(apps, schema_editor):
    """Reverse of 0003: the creator, else the team's first admin, becomes the owner again."""
    Collection = apps.get_model("search", "Collection")
    Membership = apps.get_model("search", "Membership")
    for collection in Collection.objects.filter(owner__isnull=True):
        owner_id = collection.created_by_id or (
            Membership.objects.filter(team_id=collection.team_id, role="admin")
            .order_by("id")
            .values_list("user_id", flat=True)
            .first()
        )
        if owner_id is None:
            raise RuntimeError(f"Collection {collection.id} has neither a creator nor a team admin to own it.")
        collection.owner_id = owner_id
        collection.save(update_fields=["owner"])


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0005_teams_owner_to_team"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="collection", name="unique_collection_name_per_owner"),
        migrations.AlterField(
            model_name="collection",
            name="owner",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="collections",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        # Forward: nothing to do; backward: refill the owner column re-added just before this step runs.
        migrations.RunPython(migrations.RunPython.noop, teams_to_owners),
        migrations.RemoveField(model_name="collection", name="owner"),
        migrations.AlterField(
            model_name="collection",
            name="team",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="collections", to="search.team"
            ),
        ),
        migrations.AddConstraint(
            model_name="collection",
            constraint=models.UniqueConstraint(fields=("team", "name"), name="unique_collection_name_per_team"),
        ),
    ]
