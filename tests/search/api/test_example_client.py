"""The example client of docs/api.md, run as written against a live HTTP server (tasks eager)."""

from pathlib import Path

import pytest

from search.collection.models import Collection
from search.core.models import AuditAction, AuditEvent
from search.queries.models import Match
from search.teams import services
from search.teams.models import Role
from tests.factories import team_with
from tests.images import edited_copy, encode, scene

pytestmark = pytest.mark.django_db(transaction=True)

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _example_code() -> str:
    text = DOC.read_text()
    after_marker = text.split("<!-- example-client -->", 1)[1]
    return after_marker.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_client_finds_the_copy(live_server, user, isc_settings, eager_tasks, tmp_path, capsys):
    team_with(user, Role.VIEWER, slug="readers")  # the client must pick the team where it is admin
    admin_team = team_with(user, Role.ADMIN, slug="desk")
    folder = tmp_path / "refs"
    folder.mkdir()
    for seed in range(100, 104):
        (folder / f"ref{seed}.jpg").write_bytes(encode(scene(seed)))
    query = tmp_path / "meme.jpg"
    query.write_bytes(encode(edited_copy(scene(102))))
    _, key = services.api_token_create(user=user, name="docs")

    namespace: dict = {"__name__": "example_client"}
    exec(compile(_example_code(), str(DOC), "exec"), namespace)
    namespace["main"](f"{live_server.url}/api", key, str(folder), str(query))

    output = capsys.readouterr().out
    print(output)
    lines = output.splitlines()
    assert lines[0] == "4 references added, 0 rejected" and lines[1] == "4 indexed, 0 failed"
    assert lines[2].startswith("meme.jpg: indexed in ")
    assert lines[3].startswith("COPY ") and "ref102.jpg" in lines[3]
    assert lines[-1].endswith(f": confirmed by {user.username}")
    assert Collection.objects.get().team == admin_team
    confirmed = Match.objects.get(review="confirmed")
    assert confirmed.reference.original_name == "ref102.jpg" and confirmed.reviewed_by == user
    assert AuditEvent.objects.filter(action=AuditAction.MATCH_VERDICT, actor=user, team=admin_team).count() == 1
