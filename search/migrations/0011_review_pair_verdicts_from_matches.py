"""Existing verdicts (on Match rows) become pair verdicts, so they stick from now on."""

from django.db import migrations


def forwards(apps, schema_editor):
    Match = apps.get_model("search", "Match")
    PairVerdict = apps.get_model("search", "PairVerdict")
    reviewed = (
        Match.objects.exclude(review="unreviewed")
        .select_related("query__collection", "reference")
        .order_by("reviewed_at")
    )
    for match in reviewed.iterator():
        PairVerdict.objects.update_or_create(
            team_id=match.query.collection.team_id,
            query_sha256=match.query.sha256,
            reference_sha256=match.reference.sha256,
            defaults={
                "decision": match.review,
                "decided_by_id": match.reviewed_by_id,
                "decided_at": match.reviewed_at or match.created_at,
                "match_id": match.id,
                "final_score": match.final_score,
                "collection_id": match.query.collection_id,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("search", "0010_review_queue_and_pair_verdicts")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
