"""Bulk ingest services, command and pages, against a real process pool, real Milvus Lite and the real model."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from copydetect.vector_store import VectorStore
from search.collection.models import ImageStatus, ReferenceImage
from search.core import dispatch
from search.core.models import AuditAction, AuditEvent
from search.ingest import services as ingest_services
from search.ingest.manifest import ManifestError, manifest_parse
from search.ingest.models import IngestJob
from search.teams.models import Role
from tests.factories import CollectionFactory, TeamFactory, UserFactory, collection_for
from tests.ingest_support import image_bytes, images_folder, zip_bytes
from workers import ingest as workers_ingest

pytestmark = pytest.mark.django_db


def _engines():
    from workers import runtime

    return runtime.vector_store_get(), runtime.descriptor_get()


def _run(job: IngestJob, pool) -> IngestJob:
    from workers import runtime

    store, descriptor = _engines()
    # As the worker and the command do: every index version (the live one, and one a reindex builds).
    return workers_ingest.ingest_job_run(
        job=job, pool=pool, store=store, descriptor=descriptor, targets=runtime.index_descriptors_get()
    )


def _milvus_count(collection_id: int, version: str | None = None) -> int:
    store, descriptor = _engines()
    version = version or descriptor.version
    if not store.collection_exists(model_version=version):
        return 0
    store.collection_flush(model_version=version)
    return store.vectors_count(model_version=version, collection_id=collection_id)


def _job(collection, kind: str, path: Path) -> IngestJob:
    return ingest_services.ingest_job_create(
        actor=collection.created_by, collection=collection, source_kind=kind, source_path=str(path), enqueue=False
    )


# ---------------------------------------------------------------- manifests


def test_manifest_rows_resolve_relative_paths_and_keep_ids_and_metadata(tmp_path):
    text = 'path,external_id,metadata\na.jpg,A-1,"{""source"": ""scan"", ""page"": 3}"\n/abs/b.png,,\n'
    entries = manifest_parse(text, base_dir=tmp_path)
    assert [(e.path, e.external_id, e.metadata) for e in entries] == [
        (str(tmp_path / "a.jpg"), "A-1", {"source": "scan", "page": 3}),
        ("/abs/b.png", None, None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("path,metadata\na.jpg,{not json\n", "line 2: metadata is not valid JSON"),
        ('path,metadata\na.jpg,"[1, 2]"\n', "line 2: metadata must be a JSON object"),
        ("path,external_id\na.jpg,x\n,y\n", "line 3: empty path"),
        ("path\na.jpg,extra\n", "line 2: more fields than columns"),
        ("file,external_id\na.jpg,x\n", "needs a header row with a 'path' column"),
        ("path,colour\na.jpg,red\n", "Unknown manifest column(s): colour"),
        ("path\n", "lists no images"),
    ],
)
def test_bad_manifests_are_refused_naming_the_problem(tmp_path, text, expected):
    with pytest.raises(ManifestError) as raised:
        manifest_parse(text, base_dir=tmp_path)
    assert expected in str(raised.value)


def test_every_bad_manifest_row_is_reported_at_once(tmp_path):
    text = "path,metadata\n,\na.jpg,{x\nb.jpg,\n,\n"
    with pytest.raises(ManifestError) as raised:
        manifest_parse(text, base_dir=tmp_path)
    message = str(raised.value)
    assert message.startswith("3 bad row(s)")
    assert "line 2: empty path" in message and "line 3: metadata" in message and "line 5: empty path" in message


# ---------------------------------------------------------------- jobs


def test_a_folder_job_adds_each_image_once_skips_duplicates_and_lists_bad_files(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    folder = tmp_path / "photos"
    images = images_folder(folder, [11, 12, 13, 14, 15, 16])
    (folder / "copy_of_11.jpg").write_bytes(images[0].read_bytes())
    (folder / "notes.jpg").write_bytes(b"this is text, not a picture")
    (folder / "empty.png").write_bytes(b"")

    job = _run(_job(collection, IngestJob.Source.FOLDER, folder), ingest_pool)

    assert (job.state, job.total, job.done) == (IngestJob.State.DONE, 9, 9)
    assert (job.created, job.skipped_duplicates, job.failed) == (6, 1, 2)
    assert dict(job.errors.values_list("name", "reason")) == {
        "empty.png": "The file is empty.",
        "notes.jpg": "The file is not an image (or its format is not supported).",
    }
    references = ReferenceImage.objects.filter(collection=collection)
    assert references.count() == 6 and set(references.values_list("status", flat=True)) == {ImageStatus.INDEXED}
    assert all(Path(r.local_features).exists() and r.file.storage.exists(r.file.name) for r in references)
    # Like an uploaded row once its worker is done: the version it is indexed under, no attempts pending.
    _, descriptor = _engines()
    assert set(references.values_list("descriptor_version", "attempts", "notice", "error")) == {
        (descriptor.version, 0, "", "")
    }
    assert _milvus_count(collection.id) == 6
    started, finished = AuditEvent.objects.filter(team=collection.team, target_id=job.id).order_by("id")
    assert (started.action, started.actor, started.collection_id) == (
        AuditAction.INGEST_START,
        collection.created_by,
        collection.id,
    )
    assert started.after == {"ingest_job_id": job.id, "source": "folder", "source_name": "photos", "via": "site"}
    assert (finished.action, finished.actor) == (AuditAction.INGEST_FINISH, None)
    assert finished.after == {"ingest_job_id": job.id, "total": 9, "created": 6, "duplicates": 1, "failed": 2}

    again = _run(_job(collection, IngestJob.Source.FOLDER, folder), ingest_pool)
    assert (again.created, again.skipped_duplicates, again.failed) == (0, 7, 2)
    assert references.count() == 6 and _milvus_count(collection.id) == 6


def test_during_a_reindex_the_vectors_go_to_the_live_version_and_to_the_one_being_built(
    ingest_settings, ingest_pool, tmp_path
):
    """The live index still holds the distilled model while this worker (and its pool) runs full SSCD:
    like an upload's worker, the job writes both, and its rows carry the worker's version."""
    from workers import runtime

    pool_name = ingest_settings.ISC.descriptor
    live_name = "sscd_distilled" if pool_name != "sscd_distilled" else "sscd"
    ingest_settings.ISC = ingest_settings.ISC.replace(descriptor=live_name)
    runtime.engines_reset()
    live_version = runtime.live_version_get()  # a fresh installation: this model becomes live
    ingest_settings.ISC = ingest_settings.ISC.replace(descriptor=pool_name)
    runtime.engines_reset()
    store, own = _engines()
    try:
        assert [d.version for d in runtime.index_descriptors_get()] == [live_version, own.version]
        collection = CollectionFactory()
        images_folder(tmp_path / "f", [17, 18, 19, 20, 24])
        job = _run(_job(collection, IngestJob.Source.FOLDER, tmp_path / "f"), ingest_pool)
        assert (job.state, job.created) == (IngestJob.State.DONE, 5)
        assert _milvus_count(collection.id, live_version) == 5 and _milvus_count(collection.id, own.version) == 5
        assert set(collection.references.values_list("descriptor_version", flat=True)) == {own.version}
        # The live model's vectors are its own: a query embedded by it finds the reference first.
        live = runtime.live_descriptor_get()
        reference = collection.references.get(original_name="img19.jpg")
        hits = store.vectors_search(
            model_version=live_version, vectors=live.embed([_image(19)]), top_k=1, collection_id=collection.id
        )
        assert hits[0][0].id == reference.id
    finally:
        store.alias_drop(alias=runtime.live_alias())
        store.collection_drop(model_version=live_version)


def _image(seed: int):
    from tests.images import scene

    return scene(seed, size=(160, 120))


def test_a_manifest_job_stores_external_ids_and_metadata(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    images_folder(tmp_path / "m", [21, 22])
    manifest = tmp_path / "m" / "list.csv"
    manifest.write_text(
        'path,external_id,metadata\nimg21.jpg,cat-21,"{""licence"": ""CC0""}"\nimg22.jpg,,\nmissing.jpg,x,\n'
    )

    job = _run(_job(collection, IngestJob.Source.MANIFEST, manifest), ingest_pool)

    assert (job.created, job.failed) == (2, 1)
    assert list(job.errors.values_list("reason", flat=True)) == ["File not found."]
    rows = {r.original_name.rsplit("/", 1)[-1]: r for r in ReferenceImage.objects.filter(collection=collection)}
    assert (rows["img21.jpg"].external_id, rows["img21.jpg"].metadata) == ("cat-21", {"licence": "CC0"})
    assert (rows["img22.jpg"].external_id, rows["img22.jpg"].metadata) == (None, None)


def test_a_zip_job_refuses_unsafe_members_while_listing_and_reads_the_rest(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    archive = tmp_path / "batch.zip"
    archive.write_bytes(
        zip_bytes(
            {
                "a.jpg": image_bytes(31),
                "sub/b.jpg": image_bytes(32),
                "../evil.jpg": image_bytes(33),
                "inner.zip": b"PK",
                "c.txt": b"plain text",
            }
        )
    )
    job = _run(_job(collection, IngestJob.Source.ZIP, archive), ingest_pool)
    assert (job.total, job.created, job.failed) == (3, 2, 3)
    reasons = dict(job.errors.values_list("name", "reason"))
    assert "path traversal" in reasons["../evil.jpg"]
    assert "Nested archives" in reasons["inner.zip"]
    assert "not an image" in reasons["c.txt"]
    assert _milvus_count(collection.id) == 2


def test_a_source_that_cannot_be_listed_fails_the_job_with_the_reason(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    (tmp_path / "nothing").mkdir()
    job = _run(_job(collection, IngestJob.Source.FOLDER, tmp_path / "nothing"), ingest_pool)
    assert job.state == IngestJob.State.FAILED and "No image files" in job.error


# ---------------------------------------------------------------- re-runs and crashes


def test_a_chunk_run_twice_counts_once(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    images_folder(tmp_path / "f", [41, 42, 43, 44, 45, 46])
    job = _job(collection, IngestJob.Source.FOLDER, tmp_path / "f")
    store, descriptor = _engines()
    first = workers_ingest.ingest_chunk_run(
        job_id=job.id, cursor=0, pool=ingest_pool, store=store, descriptor=descriptor
    )
    assert (first.items, first.created, first.next_cursor) == (4, 4, 4)
    # The same message delivered again (acks_late after a lost ack): the job has moved on, nothing happens.
    assert (
        workers_ingest.ingest_chunk_run(job_id=job.id, cursor=0, pool=ingest_pool, store=store, descriptor=descriptor)
        is None
    )
    job.refresh_from_db()
    assert (job.cursor, job.done, job.created) == (4, 4, 4)
    assert ReferenceImage.objects.filter(collection=collection).count() == 4


class _StoreFailingOnce(VectorStore):
    """The real store, whose connection drops on the n-th upsert: a worker dying between writing its
    rows and writing Milvus."""

    def __init__(self, *, fail_on: int, **kwargs):
        super().__init__(**kwargs)
        self.upserts = 0
        self.fail_on = fail_on

    def vectors_upsert(self, **kwargs):
        self.upserts += 1
        if self.upserts == self.fail_on:
            raise ConnectionError("worker killed")
        return super().vectors_upsert(**kwargs)


def test_a_job_killed_after_some_chunks_resumes_and_indexes_each_image_once(ingest_settings, ingest_pool, tmp_path):
    collection = CollectionFactory()
    images_folder(tmp_path / "f", list(range(50, 60)))  # 10 images: chunks of 4, 4, 2
    job = _job(collection, IngestJob.Source.FOLDER, tmp_path / "f")
    _, descriptor = _engines()
    crashing = _StoreFailingOnce(fail_on=2, uri=ingest_settings.ISC.milvus_uri)
    with pytest.raises(ConnectionError):
        workers_ingest.ingest_job_run(job=job, pool=ingest_pool, store=crashing, descriptor=descriptor)
    job.refresh_from_db()
    assert (job.state, job.cursor, job.created) == (IngestJob.State.RUNNING, 4, 4)
    assert ReferenceImage.objects.filter(collection=collection, status=ImageStatus.PROCESSING).count() == 4

    # The sweeper finds it silent and re-queues it; here the resumed chunks run in this process.
    IngestJob.objects.filter(id=job.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    job = _run(job, ingest_pool)

    assert (job.state, job.done, job.created, job.skipped_duplicates) == (IngestJob.State.DONE, 10, 10, 0)
    rows = ReferenceImage.objects.filter(collection=collection)
    assert rows.count() == 10 and rows.filter(status=ImageStatus.INDEXED).count() == 10
    assert rows.values("sha256").distinct().count() == 10
    assert _milvus_count(collection.id) == 10
    crashing.close()


def test_stale_jobs_are_found_once_and_fresh_ones_left_alone(ingest_settings, monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "task_send", lambda name, *args: sent.append((name, args)))
    collection = CollectionFactory()
    old = timezone.now() - timedelta(hours=1)
    stale = IngestJob.objects.create(
        collection=collection, source_kind="folder", source_path="/x", state="running", cursor=128, heartbeat_at=old
    )
    IngestJob.objects.create(collection=collection, source_kind="folder", source_path="/y", state="running")
    IngestJob.objects.create(
        collection=collection, source_kind="folder", source_path="/z", state="done", heartbeat_at=old
    )

    assert ingest_services.ingest_jobs_resume_stale(older_than=timedelta(minutes=15)) == [stale.id]
    assert sent == [(dispatch.INGEST_CHUNK, (stale.id, 128))]
    assert ingest_services.ingest_jobs_resume_stale(older_than=timedelta(minutes=15)) == [], "its heartbeat moved on"


# ---------------------------------------------------------------- the site


def _logged_in(client, role: Role, **fields):
    """A signed-in user with `role` in the team of a new collection."""
    user = UserFactory()
    client.force_login(user)
    return user, collection_for(user, role, **fields)


def _zip_upload(entries: dict[str, bytes], name: str = "holiday.zip"):
    archive = io.BytesIO(zip_bytes(entries))
    archive.name = name
    return archive


def test_a_zip_upload_stores_the_archive_and_returns_with_a_queued_job(
    client, ingest_settings, ingest_pool, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(dispatch, "task_send", lambda name, *args: sent.append((name, args)))
    uploader, collection = _logged_in(client, Role.UPLOADER)
    archive = _zip_upload({"a.jpg": image_bytes(61), "b.jpg": image_bytes(62), "../c.jpg": image_bytes(63)})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("search:references_upload", args=[collection.id]), {"source": "zip", "archive": archive}
        )
    assert response.status_code == 302 and response.url == reverse("search:collection_detail", args=[collection.id])
    job = IngestJob.objects.get(collection=collection)
    assert (job.state, job.source_kind, job.source_name, job.created_by) == ("queued", "zip", "holiday.zip", uploader)
    assert Path(job.source_path).parent == Path(ingest_settings.ISC.ingest_dir) and Path(job.source_path).exists()
    assert sent == [(dispatch.INGEST_CHUNK, (job.id, 0))]
    assert not ReferenceImage.objects.filter(collection=collection).exists(), "nothing is decoded in the request"
    event = AuditEvent.objects.get(action=AuditAction.INGEST_START)
    assert (event.team, event.actor, event.target_id, event.after["source"]) == (
        collection.team,
        uploader,
        job.id,
        "zip",
    )

    page = client.get(reverse("search:collection_detail", args=[collection.id]))
    assert reverse("search:ingest_jobs_panel", args=[collection.id]) in page.content.decode(), "the panel polls"

    _run(job, ingest_pool)
    panel = client.get(reverse("search:ingest_jobs_panel", args=[collection.id])).content.decode()
    assert "2 of 2 files" in panel and "1 bad file" in panel and "data-live-url" not in panel
    detail = client.get(reverse("search:ingest_job_detail", args=[job.id])).content.decode()
    assert "../c.jpg" in detail and "path traversal" in detail
    assert collection.team.name in detail and f"started by {uploader.username}" in detail


def test_a_viewer_cannot_start_a_zip_ingest(client, ingest_settings):
    _, collection = _logged_in(client, Role.VIEWER)
    response = client.post(
        reverse("search:references_upload", args=[collection.id]),
        {"source": "zip", "archive": _zip_upload({"a.jpg": image_bytes(64)})},
    )
    assert response.status_code == 403 and "uploader role or higher" in response.content.decode()
    assert not IngestJob.objects.exists() and not AuditEvent.objects.filter(action=AuditAction.INGEST_START).exists()
    assert not list(Path(ingest_settings.ISC.ingest_dir).glob("*.zip")), "the archive was not even stored"


def test_a_broken_zip_is_refused_in_the_request(client, ingest_settings):
    _, collection = _logged_in(client, Role.UPLOADER)
    archive = io.BytesIO(b"not a zip at all")
    archive.name = "x.zip"
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "zip", "archive": archive}, follow=True
    )
    assert "The file is not a readable zip archive." in [str(m) for m in response.context["messages"]]
    assert not IngestJob.objects.exists() and not list(Path(ingest_settings.ISC.ingest_dir).glob("*.zip"))


def test_a_folder_import_starts_a_job_only_under_the_teams_import_root(client, ingest_settings, tmp_path):
    admin, collection = _logged_in(client, Role.ADMIN)
    other_team = TeamFactory()
    own_root = tmp_path / "import" / collection.team.slug
    images_folder(own_root / "batch", [71])
    images_folder(tmp_path / "import" / other_team.slug / "batch", [72])
    url = reverse("search:references_upload", args=[collection.id])
    for elsewhere in (tmp_path, tmp_path / "import", tmp_path / "import" / other_team.slug / "batch"):
        refused = client.post(url, {"source": "folder", "folder": str(elsewhere)}, follow=True)
        assert any("can only be imported from under" in str(m) for m in refused.context["messages"]), elsewhere
    assert not IngestJob.objects.exists()
    client.post(url, {"source": "folder", "folder": str(own_root / "batch")})
    job = IngestJob.objects.get()
    assert (job.source_kind, job.source_path, job.created_by) == ("folder", str((own_root / "batch").resolve()), admin)


def test_an_uploader_cannot_import_a_server_folder(client, ingest_settings, tmp_path):
    _, collection = _logged_in(client, Role.UPLOADER)
    folder = tmp_path / "import" / collection.team.slug / "batch"
    images_folder(folder, [73])
    response = client.post(
        reverse("search:references_upload", args=[collection.id]), {"source": "folder", "folder": str(folder)}
    )
    assert response.status_code == 403 and "admin role or higher" in response.content.decode()
    assert not IngestJob.objects.exists()


def test_a_teams_imports_are_invisible_to_another_team(client, ingest_settings):
    mine, theirs = UserFactory(), UserFactory()
    my_collection, their_collection = collection_for(mine, Role.VIEWER), collection_for(theirs, Role.VIEWER)
    my_job = IngestJob.objects.create(collection=my_collection, source_kind="zip", source_path="/mine.zip")
    their_job = IngestJob.objects.create(collection=their_collection, source_kind="zip", source_path="/theirs.zip")
    for user, own, own_job, other, other_job in (
        (mine, my_collection, my_job, their_collection, their_job),
        (theirs, their_collection, their_job, my_collection, my_job),
    ):
        client.force_login(user)
        assert client.get(reverse("search:ingest_job_detail", args=[own_job.id])).status_code == 200
        assert client.get(reverse("search:ingest_jobs_panel", args=[own.id])).status_code == 200
        assert client.get(reverse("search:ingest_job_detail", args=[other_job.id])).status_code == 404
        assert client.get(reverse("search:ingest_jobs_panel", args=[other.id])).status_code == 404
        page = client.get(reverse("search:collection_detail", args=[own.id])).content.decode()
        assert f"Bulk import #{own_job.id}</b>" in page and f"Bulk import #{other_job.id}</b>" not in page


def test_finished_imports_fold_away_behind_one_line_each(client):
    user = UserFactory()
    collection = collection_for(user, Role.VIEWER)
    finished = [
        IngestJob.objects.create(
            collection=collection, source_kind="zip", source_path=f"/{n}.zip", source_name=f"batch{n}.zip", state="done"
        )
        for n in range(14)
    ]
    running = IngestJob.objects.create(collection=collection, source_kind="folder", source_path="/f", state="running")
    client.force_login(user)
    panel = client.get(reverse("search:ingest_jobs_panel", args=[collection.id])).content.decode()
    cards = panel.count('class="card ingest-job"')
    assert cards == 2, f"the running job and the latest finished one as cards, not {cards}"
    assert f"Bulk import #{running.id}</b>" in panel and f"Bulk import #{finished[-1].id}</b>" in panel
    assert "13 earlier imports</summary>" in panel
    for job in finished[3:13]:
        assert f'href="{reverse("search:ingest_job_detail", args=[job.id])}"' in panel
    assert f"Bulk import #{finished[0].id}<" not in panel, "beyond the last ten: the audit log has them"


# ---------------------------------------------------------------- the command


def test_the_command_ingests_a_folder_with_a_progress_bar_and_lists_bad_files(ingest_settings, tmp_path, capsys):
    collection = CollectionFactory(name="Archive")
    folder = tmp_path / "photos"
    images_folder(folder, [81, 82, 83, 84, 85])
    (folder / "broken.jpg").write_bytes(image_bytes(86)[:200])
    out = io.StringIO()
    call_command("ingest", str(folder), "--collection", "Archive", stdout=out)
    printed = out.getvalue()
    assert "6 files from" in printed
    assert "done: 5 added, 0 duplicates skipped, 1 failed" in printed
    assert "broken.jpg: The image is truncated or corrupt" in printed
    assert "6/6" in capsys.readouterr().err, "tqdm's bar shows done / total"
    assert ReferenceImage.objects.filter(collection=collection, status=ImageStatus.INDEXED).count() == 5


def test_the_command_with_no_wait_only_queues_and_create_makes_the_collection_in_the_team(
    ingest_settings, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(dispatch, "task_send", lambda name, *args: sent.append((name, args)))
    curator = UserFactory(username="curator")
    team = collection_for(curator, Role.ADMIN).team
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"a.jpg": image_bytes(91)}))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "ingest", str(archive), "--collection", "New", "--team", team.slug, "--create", "--no-wait", stdout=out
        )
    job = IngestJob.objects.get()
    assert (job.collection.team, job.collection.name, job.source_kind, job.state) == (team, "New", "zip", "queued")
    first_admin = team.memberships.filter(role=Role.ADMIN).order_by("created_at", "id").first().user
    assert job.created_by == job.collection.created_by == first_admin
    assert f"Ingest job {job.id} queued" in out.getvalue() and sent == [(dispatch.INGEST_CHUNK, (job.id, 0))]
    actions = list(AuditEvent.objects.filter(team=team).order_by("id").values_list("action", "actor", "after__via"))
    assert actions[-2:] == [
        (AuditAction.COLLECTION_CREATE, first_admin.id, None),
        (AuditAction.INGEST_START, first_admin.id, "manage.py ingest"),
    ]


def test_the_command_acts_as_a_named_admin_and_refuses_anyone_else(ingest_settings, tmp_path, monkeypatch):
    monkeypatch.setattr(dispatch, "task_send", lambda name, *args: None)
    curator, viewer = UserFactory(username="curator"), UserFactory(username="onlooker")
    collection = collection_for(curator, Role.ADMIN, name="Archive")
    collection_for(viewer, Role.VIEWER)  # a member elsewhere
    archive = tmp_path / "a.zip"
    archive.write_bytes(zip_bytes({"a.jpg": image_bytes(92)}))
    with pytest.raises(CommandError, match="'onlooker' is not an admin of team"):
        call_command("ingest", str(archive), "--collection", "Archive", "--as", "onlooker", "--no-wait")
    call_command(
        "ingest", str(archive), "--collection", "Archive", "--as", "curator", "--no-wait", stdout=io.StringIO()
    )
    assert IngestJob.objects.get().created_by == curator and IngestJob.objects.get().collection == collection


def test_the_command_refuses_a_bad_manifest_before_creating_a_job(ingest_settings, tmp_path):
    CollectionFactory(name="Archive")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,metadata\na.jpg,{oops\n")
    with pytest.raises(CommandError, match="line 2: metadata is not valid JSON"):
        call_command("ingest", str(manifest), "--collection", "Archive")
    assert not IngestJob.objects.exists()


def test_the_command_needs_an_unambiguous_collection(ingest_settings, tmp_path):
    first, second = CollectionFactory(name="Same"), CollectionFactory(name="Same")
    with pytest.raises(CommandError, match="Several teams have a collection called 'Same'.*say which with --team"):
        call_command("ingest", str(tmp_path), "--collection", "Same")
    with pytest.raises(CommandError, match="No collection 'Missing'"):
        call_command("ingest", str(tmp_path), "--collection", "Missing")
    with pytest.raises(CommandError, match="--create needs --team SLUG"):
        call_command("ingest", str(tmp_path), "--collection", "Missing", "--create")
    with pytest.raises(CommandError, match="No team 'nope'"):
        call_command("ingest", str(tmp_path), "--collection", "Same", "--team", "nope")
    images_folder(tmp_path / "f", [93])
    call_command(
        "ingest",
        str(tmp_path / "f"),
        "--collection",
        "Same",
        "--team",
        second.team.slug,
        "--no-wait",
        stdout=io.StringIO(),
    )
    assert IngestJob.objects.get().collection == second and first.ingest_jobs.count() == 0


def test_staff_see_ingest_jobs_in_the_admin_but_cannot_add_or_change_them(admin_client, ingest_settings):
    job = IngestJob.objects.create(collection=CollectionFactory(), source_kind="zip", source_path="/x.zip")
    job.errors.create(position=0, name="bad.jpg", reason="The file is empty.")
    listing = admin_client.get(reverse("admin:search_ingestjob_changelist"))
    assert listing.status_code == 200 and job.collection.name in listing.content.decode()
    page = admin_client.get(reverse("admin:search_ingestjob_change", args=[job.id]))
    assert page.status_code == 200 and "bad.jpg" in page.content.decode()
    assert 'name="_save"' not in page.content.decode(), "read-only: no save button"
    assert admin_client.get(reverse("admin:search_ingestjob_add")).status_code == 403
    admin_client.post(reverse("admin:search_ingestjob_change", args=[job.id]), {"state": "done"})
    job.refresh_from_db()
    assert job.state == IngestJob.State.QUEUED
