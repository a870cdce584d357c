"""PDQ and MD5 of every picture: computed by the worker beside the descriptor, and backfilled for old rows."""

import hashlib
import io

import pytest
from django.core.management import call_command

from copydetect.signals import image_signals_compute, pdq_distance
from search.collection import services as collection_services
from search.collection.models import ReferenceImage
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from tests.factories import CollectionFactory
from tests.images import edited_copy, encode, scene

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_stores_pdq_with_quality_and_md5_on_references_and_queries(isc_settings, eager_tasks):
    collection = CollectionFactory()
    reference_bytes, query_bytes = encode(scene(310)), encode(edited_copy(scene(310)))
    [reference] = collection_services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.jpg", reference_bytes)]
    ).created
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", query_bytes)
    )
    reference.refresh_from_db()
    query.refresh_from_db()
    from PIL import Image

    expected = image_signals_compute(image=Image.open(io.BytesIO(reference_bytes)).convert("RGB"))
    assert reference.pdq == expected.pdq and reference.pdq_quality == expected.pdq_quality >= 50
    assert reference.md5 == hashlib.md5(reference_bytes).hexdigest()
    assert query.md5 == hashlib.md5(query_bytes).hexdigest() and len(query.pdq) == 64
    # The edited copy's PDQ is near the original's; an unrelated picture's is not.
    assert pdq_distance(query.pdq, reference.pdq) < pdq_distance(query.pdq, image_signals_compute(image=scene(999)).pdq)


def test_the_backfill_hashes_rows_stored_before_signals_existed(isc_settings, eager_tasks):
    collection = CollectionFactory()
    data = [encode(scene(seed)) for seed in (320, 321)]
    created = collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"r{i}.jpg", payload) for i, payload in enumerate(data)],
    ).created
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(322)))
    )
    filled = {row.id: row.pdq for row in ReferenceImage.objects.all()}
    ReferenceImage.objects.update(pdq="", pdq_quality=None, md5="")
    QueryImage.objects.update(pdq="", pdq_quality=None, md5="")
    out = io.StringIO()
    call_command("signals_backfill", stdout=out)
    assert "references: 2 hashed" in out.getvalue() and "queries: 1 hashed" in out.getvalue()
    for row in ReferenceImage.objects.all():
        assert (
            row.pdq == filled[row.id]
            and row.md5 == hashlib.md5(data[[r.id for r in created].index(row.id)]).hexdigest()
        )
    assert QueryImage.objects.get(id=query.id).pdq
    out = io.StringIO()
    call_command("signals_backfill", stdout=out)
    assert "references: 0 hashed" in out.getvalue()
