"""The evaluation page against a small collection whose scores are worked out by hand."""

import io

import pytest
from django.urls import reverse

from search.collection import services as collection_services
from search.core.uploads import Payload
from search.evaluation.selectors import QueryEdits, edits_parse, ground_truth_parse
from search.queries import services as queries_services
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db

# References R1–R4; queries Q1–Q4 from the ground truth plus Q7, which the ground truth does not list.
# Candidates (query → reference: final score, rank for the query):
#   Q1 → R1 0.9 #1 (true)      Q2 → R4 0.8 #1, R2 0.7 #2 (true)      Q3 → R4 0.6 #1 (R3, its copy, missed)
#   Q4 → R4 0.5 #1 (Q4 has no copy)      Q7 → R1 0.95 #1 (left out: Q7 is not in the ground truth)
# Pooled by score: 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP, 0.5 FP over 3 true pairs
#   → µAP = 1/3·1 + 1/3·2/3 = 5/9; precision ≥ 0.9 only at rank 1 → recall@P90 = 1/3 at score 0.9.
GROUND_TRUTH = "query_id,reference_id\nQ1,R1\nQ2,R2\nQ3,R3\nQ4,\nQ9,R1\n"  # Q9 was never uploaded
CANDIDATES = {
    "Q1": [("R1", 0.9)],
    "Q2": [("R4", 0.8), ("R2", 0.7)],
    "Q3": [("R4", 0.6)],
    "Q4": [("R4", 0.5)],
    "Q7": [("R1", 0.95)],
}
# Families (a query counts in each of its families) and difficulties:
#   crop = Q1, Q2: 0.9 TP, 0.8 FP, 0.7 TP over 2 pairs → µAP 1/2·1 + 1/2·2/3 = 5/6, recall@P90 1/2
#   text = Q1, Q4: 0.9 TP, 0.5 FP over 1 pair → µAP 1, recall@P90 1
#   blur = Q3: 0.6 FP over 1 pair → µAP 0, recall@P90 0
#   easy = Q1, Q4 → 1;  medium = Q2: 0.8 FP, 0.7 TP → 1/2;  hard = Q3 → 0
EDITS = (
    "query_id,families,difficulty,params,source\n"
    'Q1,crop|text,easy,"[{""family"": ""crop""}]",a.jpg\n'
    "Q2,crop,medium,[],b.jpg\n"
    "Q3,blur,hard,[],c.jpg\n"
    "Q4,text,easy,[],d.jpg\n"
)


@pytest.fixture
def moderator(client):
    user = UserFactory()
    client.force_login(user)
    return user


def _image(seed: int) -> bytes:
    return encode(scene(seed, size=(96, 72)))


def _collection_with_matches(owner, candidates=CANDIDATES, references=("R1", "R2", "R3", "R4")):
    collection = collection_for(owner, match_threshold=0.75)
    report = collection_services.reference_images_add(
        actor=collection.created_by,
        collection=collection,
        items=[Payload(f"{name}.jpg", _image(seed)) for seed, name in enumerate(references)],
    )
    reference_ids = {reference.original_name.removesuffix(".jpg"): reference.id for reference in report.created}
    for seed, (query_name, results) in enumerate(candidates.items(), start=100):
        query, _ = queries_services.query_image_add(
            actor=collection.created_by, collection=collection, payload=Payload(f"{query_name}.png", _image(seed))
        )
        queries_services.query_results_record(
            query_id=query.id,
            descriptor_version="v",
            search_ms=1,
            results=[
                queries_services.MatchResult(reference_ids[name], score, False, 0, 0.0, [], score)
                for name, score in results
            ],
        )
    return collection


def _csv(text: str, name: str) -> io.BytesIO:
    upload = io.BytesIO(text.encode())
    upload.name = name
    return upload


def _evaluate(client, collection, ground_truth=GROUND_TRUTH, edits=EDITS):
    data = {"collection": collection.id, "ground_truth": _csv(ground_truth, "ground_truth.csv")}
    if edits is not None:
        data["edits"] = _csv(edits, "edits.csv")
    return client.post(reverse("search:evaluation"), data)


def _rows(rows) -> dict:
    return {row.name: (row.n_queries, row.n_pairs, row.micro_ap, row.recall_at_p90) for row in rows}


def test_the_page_needs_a_login(client):
    response = client.get(reverse("search:evaluation"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_nav_links_to_the_page_and_the_form_lists_only_my_collections(client, moderator):
    collection_for(moderator, name="Mine")
    collection_for(UserFactory(), name="Theirs")
    page = client.get(reverse("search:evaluation")).content.decode()
    assert f'href="{reverse("search:evaluation")}"' in page
    assert "Mine" in page and "Theirs" not in page


def test_scores_a_small_collection_as_worked_out_by_hand(client, moderator, media_root):
    collection = _collection_with_matches(moderator)
    response = _evaluate(client, collection)
    assert response.status_code == 200
    result = response.context["result"]

    assert result.metrics.micro_ap == pytest.approx(5 / 9)
    assert result.metrics.recall_at_p90 == pytest.approx(1 / 3)
    assert result.metrics.threshold_at_p90 == pytest.approx(0.9)
    assert (result.n_queries_scored, result.n_pairs, result.n_pairs_found, result.n_predictions) == (4, 3, 2, 5)
    assert (result.missing_queries.count, result.missing_queries.examples) == (1, ["Q9"])
    assert (result.unlisted_queries.count, result.unlisted_queries.examples) == (1, ["Q7"])
    assert result.missing_references.count == 0

    assert _rows(result.families) == {
        "blur": (1, 1, pytest.approx(0.0), pytest.approx(0.0)),
        "crop": (2, 2, pytest.approx(5 / 6), pytest.approx(0.5)),
        "text": (2, 1, pytest.approx(1.0), pytest.approx(1.0)),
    }
    assert [row.name for row in result.difficulties] == ["easy", "medium", "hard"]
    assert _rows(result.difficulties) == {
        "easy": (2, 1, pytest.approx(1.0), pytest.approx(1.0)),
        "medium": (1, 1, pytest.approx(0.5), pytest.approx(0.0)),
        "hard": (1, 1, pytest.approx(0.0), pytest.approx(0.0)),
    }

    misses = [(m.query_id, m.reference_id, m.score, m.rank, m.reason) for m in result.worst_misses]
    assert misses == [
        ("Q3", "R3", None, None, "not in candidates"),
        ("Q2", "R2", 0.7, 2, "below the threshold"),
    ], "Q1 → R1 is a correct rank-1 hit above the threshold: not a miss"
    assert result.worst_misses[0].reference.original_name == "R3.jpg", "the missed reference is still shown"
    alarms = [(a.query_id, a.reference_id, a.match.final_score) for a in result.worst_false_alarms]
    assert alarms == [("Q2", "R4", 0.8), ("Q3", "R4", 0.6), ("Q4", "R4", 0.5)]

    page = response.content.decode()
    assert '<img src="data:image/png;base64,iVBORw0KGgo' in page
    assert "0.5556" in page and "0.3333" in page and "final score ≥ 0.900" in page
    assert "not in candidates" in page and "score 0.700 · rank #2" in page
    q3 = collection.queries.get(original_name="Q3.png")
    assert reverse("search:query_detail", args=[q3.id]) in page
    r3 = collection.references.get(original_name="R3.jpg")
    assert reverse("search:image_file", args=["query", q3.id, "thumb"]) in page
    assert reverse("search:image_file", args=["reference", r3.id, "thumb"]) in page
    assert "Q9" in page and "Q7" in page, "the mismatched ids are named"


def test_without_an_edits_file_there_is_no_breakdown(client, moderator, media_root):
    collection = _collection_with_matches(moderator)
    response = _evaluate(client, collection, edits=None)
    result = response.context["result"]
    assert result.metrics.micro_ap == pytest.approx(5 / 9)
    assert result.families == [] and result.difficulties == [] and not result.has_breakdown
    assert "Add the edits file" in response.content.decode()


def test_a_true_reference_missing_from_the_collection_is_a_miss_and_is_reported(client, moderator, media_root):
    collection = _collection_with_matches(moderator, candidates={"Q1": [("R1", 0.9)], "Q2": []}, references=("R1",))
    result = _evaluate(client, collection, ground_truth="query_id,reference_id\nQ1,R1\nQ2,R2\n", edits=None).context[
        "result"
    ]
    # 0.9 TP over 2 pairs → µAP 1/2.
    assert result.metrics.micro_ap == pytest.approx(0.5)
    assert (result.missing_references.count, result.missing_references.examples) == (1, ["R2"])
    assert [(m.query_id, m.reference) for m in result.worst_misses][0] == ("Q2", None)
    assert result.worst_false_alarms == []


@pytest.mark.parametrize(
    "ground_truth, message",
    [
        ("query,reference\nQ1,R1\n", "ground_truth.csv:1: expected header query_id,reference_id"),
        ("query_id,reference_id\nQ1,R1\nQ2,R2\nQ1,R1\n", "ground_truth.csv:4: duplicate row Q1,R1 (first on line 2)"),
        ("query_id,reference_id\nQ1,R1,0.5\n", "ground_truth.csv:2: expected 2 fields"),
        ("query_id,reference_id\nQ1,\nQ1,R1\n", "query Q1 is listed both with and without a reference"),
        ("query_id,reference_id\n", "ground_truth.csv: no rows after the header"),
        ("", "The submitted file is empty."),
    ],
)
def test_a_malformed_ground_truth_is_a_form_error(client, moderator, ground_truth, message):
    collection = collection_for(moderator)
    response = _evaluate(client, collection, ground_truth=ground_truth, edits=None)
    assert response.status_code == 200 and response.context["result"] is None
    assert any(message in error for error in response.context["form"].errors["ground_truth"])
    assert message in response.content.decode()


def test_a_malformed_edits_file_is_a_form_error(client, moderator):
    collection = collection_for(moderator)
    response = _evaluate(client, collection, edits="query_id,families,difficulty\nQ1,crop,easy\nQ1,blur,hard\n")
    assert response.context["result"] is None
    assert response.context["form"].errors["edits"] == ["edits.csv:3: query Q1 listed twice (first on line 2)"]
    response = _evaluate(client, collection, edits="query_id,difficulty\nQ1,easy\n")
    assert "expected a header starting with query_id,families,difficulty" in response.context["form"].errors["edits"][0]


def test_a_binary_upload_is_a_form_error_not_a_crash(client, moderator):
    collection = collection_for(moderator)
    upload = io.BytesIO(encode(scene(1, size=(32, 32))))
    upload.name = "ground_truth.csv"
    response = client.post(reverse("search:evaluation"), {"collection": collection.id, "ground_truth": upload})
    assert response.status_code == 200 and response.context["form"].errors["ground_truth"]


def test_another_users_collection_cannot_be_chosen(client, moderator, media_root):
    theirs = _collection_with_matches(UserFactory())
    response = _evaluate(client, theirs)
    assert response.status_code == 200 and response.context["result"] is None
    assert "Select a valid choice" in response.context["form"].errors["collection"][0]
    assert "R1" not in response.content.decode()


def test_parsing_keeps_empty_references_and_splits_families():
    assert ground_truth_parse(data="\ufeffquery_id,reference_id\r\nQ1,R1\r\n\r\nQ2,\r\n".encode(), name="gt.csv") == [
        ("Q1", "R1"),
        ("Q2", ""),
    ]
    assert edits_parse(data=EDITS.encode(), name="edits.csv")["Q1"] == QueryEdits(("crop", "text"), "easy")
    assert edits_parse(data=b"query_id,families,difficulty\nQ5,,\n", name="e.csv")["Q5"] == QueryEdits(
        ("(no edit)",), "(unknown)"
    )


def test_a_flagged_pair_outranked_by_a_false_candidate_is_a_miss_and_a_clean_hit_is_not(client, moderator, media_root):
    candidates = {"Q1": [("R2", 0.95), ("R1", 0.9)], "Q2": [("R2", 0.8)]}
    collection = _collection_with_matches(moderator, candidates=candidates, references=("R1", "R2"))
    result = _evaluate(client, collection, "query_id,reference_id\nQ1,R1\nQ2,R2\n", edits=None).context["result"]
    assert [(m.query_id, m.reference_id, m.rank, m.reason) for m in result.worst_misses] == [
        ("Q1", "R1", 2, "a false candidate ranks above it")
    ]
