"""Evaluation of a collection's matches against a DISC21 ground-truth file."""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import QuerySet

from copydetect.formats import ground_truth_rows
from copydetect.metrics import MatchingMetrics, Prediction, matching_evaluate, per_group_evaluate
from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.queries.models import Match, QueryImage

EDITS_COLUMNS = ("query_id", "families", "difficulty")  # leading columns of make_benchmark's edits.csv


FAMILY_SEPARATOR = "|"


DIFFICULTY_ORDER = ("easy", "medium", "hard")


NO_FAMILY = "(no edit)"


NO_DIFFICULTY = "(unknown)"


WORST_LIMIT = 12


EXAMPLE_IDS = 8


@dataclass(frozen=True)
class QueryEdits:
    families: tuple[str, ...]
    difficulty: str


class EvaluationFileRefused(ValueError):
    """An uploaded evaluation file that cannot be used; `code` is what the API reports."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def evaluation_file_read(upload, *, parse, max_bytes: int):
    """An uploaded ground-truth or edits CSV, parsed by `parse` (ground_truth_parse, edits_parse): too large
    and malformed files are refused with the reason (the line, for a bad row)."""
    if upload.size > max_bytes:
        raise EvaluationFileRefused(
            "too_large", f"{upload.name} is {upload.size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB."
        )
    try:
        return parse(data=upload.read(), name=upload.name)
    except ValueError as error:
        raise EvaluationFileRefused("bad_csv", str(error)) from None


def ground_truth_parse(*, data: bytes, name: str) -> list[tuple[str, str]]:
    """(query id, reference id) rows of an uploaded DISC21 ground-truth CSV (see `formats.ground_truth_rows`)."""
    rows = ground_truth_rows(_text_lines(data, name), source=name)
    if not rows:
        raise ValueError(f"{name}: no rows after the header")
    return rows


def edits_parse(*, data: bytes, name: str) -> dict[str, QueryEdits]:
    """query id → its edit families (`|`-separated) and difficulty, from `make_benchmark`'s edits.csv.

    The header must start with query_id,families,difficulty; further columns are ignored.
    """
    reader = csv.reader(_text_lines(data, name))
    try:
        header = [column.strip() for column in next(reader, [])]
    except csv.Error as error:
        raise ValueError(f"{name}:1: {error}") from None
    if tuple(header[: len(EDITS_COLUMNS)]) != EDITS_COLUMNS:
        raise ValueError(
            f"{name}:1: expected a header starting with {','.join(EDITS_COLUMNS)}, got "
            f"{','.join(header) if header else 'an empty file'}"
        )
    edits: dict[str, QueryEdits] = {}
    line_of_query: dict[str, int] = {}
    try:
        for fields in reader:
            if not fields:
                continue
            if len(fields) != len(header):
                raise ValueError(f"{name}:{reader.line_num}: expected {len(header)} fields, got {len(fields)}")
            query_id, families, difficulty = (value.strip() for value in fields[: len(EDITS_COLUMNS)])
            if not query_id:
                raise ValueError(f"{name}:{reader.line_num}: empty query_id")
            if query_id in edits:
                raise ValueError(
                    f"{name}:{reader.line_num}: query {query_id} listed twice (first on line {line_of_query[query_id]})"
                )
            line_of_query[query_id] = reader.line_num
            names = tuple(dict.fromkeys(f.strip() for f in families.split(FAMILY_SEPARATOR) if f.strip()))
            edits[query_id] = QueryEdits(names or (NO_FAMILY,), difficulty or NO_DIFFICULTY)
    except csv.Error as error:
        raise ValueError(f"{name}:{reader.line_num}: {error}") from None
    if not edits:
        raise ValueError(f"{name}: no rows after the header")
    return edits


def _text_lines(data: bytes, name: str) -> io.StringIO:
    try:
        # utf-8-sig: spreadsheets often prepend a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: not a UTF-8 text file") from None
    if "\x00" in text:
        raise ValueError(f"{name}: not a CSV text file")
    return io.StringIO(text, newline="")


@dataclass(frozen=True)
class GroupRow:
    """One line of a breakdown table; µAP and recall are None where the group has no true pair."""

    name: str
    n_queries: int
    n_pairs: int
    micro_ap: float | None
    recall_at_p90: float | None
    threshold_at_p90: float | None


@dataclass(frozen=True)
class Miss:
    """A true pair, with where the collection ranked it (score and rank are None: not a candidate)."""

    query_id: str
    reference_id: str
    query: QueryImage
    reference: ReferenceImage | None  # None: the true reference is not in the collection
    score: float | None
    rank: int | None  # rank among the query's own candidates
    reason: str = "not in candidates"


@dataclass(frozen=True)
class FalseAlarm:
    query_id: str
    reference_id: str
    match: Match


@dataclass(frozen=True)
class Mismatch:
    """Ids on one side without a counterpart on the other; `examples` are a few, sorted."""

    count: int
    examples: list[str]


@dataclass(frozen=True)
class Evaluation:
    collection: Collection
    metrics: MatchingMetrics
    n_ground_truth_queries: int  # distinct queries in the file
    n_queries_scored: int  # of those, uploaded to the collection
    n_pairs: int  # true pairs among the scored queries
    n_pairs_found: int  # true pairs among the candidates
    n_predictions: int
    missing_queries: Mismatch  # ground-truth queries with no upload in the collection
    unlisted_queries: Mismatch  # collection queries the ground truth does not list
    missing_references: Mismatch  # true references of scored queries missing from the collection
    unsearched_queries: int  # scored queries whose search has not finished (no candidates yet)
    duplicate_stems: Mismatch  # stems shared by several uploads (their matches are pooled)
    queries_without_edits: Mismatch | None  # None when no edits file was given
    families: list[GroupRow]
    difficulties: list[GroupRow]
    worst_misses: list[Miss]
    worst_false_alarms: list[FalseAlarm]
    curves: dict[str, MatchingMetrics] = field(repr=False)

    @property
    def has_breakdown(self) -> bool:
        return self.queries_without_edits is not None


def collection_evaluate(
    *, collection: Collection, ground_truth: Sequence[tuple[str, str]], edits: Mapping[str, QueryEdits] | None = None
) -> Evaluation:
    """Scores the collection's matches against `ground_truth` (ids are file stems)."""
    queries = _by_stem(collection.queries.all())
    references = _by_stem(collection.references.all())
    ground_truth_queries = {query_id for query_id, _ in ground_truth}
    scored = ground_truth_queries & queries.keys()
    truth = [(q, r) for q, r in ground_truth if q in scored]
    pairs = {(q, r) for q, r in truth if r}

    matches = _matches_by_pair(collection, scored)
    predictions = [Prediction(q, r, match.final_score) for (q, r), match in matches.items()]
    metrics = matching_evaluate(predictions=predictions, ground_truth=truth)

    families: list[GroupRow] = []
    difficulties: list[GroupRow] = []
    queries_without_edits = None
    curves = {"All queries": metrics}
    if edits is not None:
        known = {q: e for q, e in edits.items() if q in scored}
        families = _family_rows(predictions, truth, known)
        difficulty_of = {q: e.difficulty for q, e in known.items()}
        per_difficulty = per_group_evaluate(predictions=predictions, ground_truth=truth, groups=difficulty_of)
        difficulties = _difficulty_rows(per_difficulty, difficulty_of)
        # Only groups with true pairs draw a curve.
        curves.update({row.name: per_difficulty[row.name] for row in difficulties if row.n_pairs})
        queries_without_edits = _mismatch(scored - edits.keys())

    return Evaluation(
        collection=collection,
        metrics=metrics,
        n_ground_truth_queries=len(ground_truth_queries),
        n_queries_scored=len(scored),
        n_pairs=len(pairs),
        n_pairs_found=sum(1 for pair in pairs if pair in matches),
        n_predictions=len(predictions),
        missing_queries=_mismatch(ground_truth_queries - queries.keys()),
        unlisted_queries=_mismatch(queries.keys() - ground_truth_queries),
        missing_references=_mismatch({r for _, r in pairs} - references.keys()),
        unsearched_queries=sum(1 for q in scored if queries[q][0].status != ImageStatus.INDEXED),
        duplicate_stems=_mismatch(
            {s for by_stem in (queries, references) for s, rows in by_stem.items() if len(rows) > 1}
        ),
        queries_without_edits=queries_without_edits,
        families=families,
        difficulties=difficulties,
        worst_misses=_worst_misses(pairs, matches, queries, references, collection.match_threshold),
        worst_false_alarms=_worst_false_alarms(pairs, matches),
        curves=curves,
    )


def _by_stem(images: QuerySet[QueryImage] | QuerySet[ReferenceImage]) -> dict[str, list]:
    """File stem → the images uploaded under it, oldest first (the first one stands for the stem)."""
    by_stem: dict[str, list] = defaultdict(list)
    for image in images.order_by("created_at", "id"):
        by_stem[Path(image.original_name).stem].append(image)
    return dict(by_stem)


def _matches_by_pair(collection: Collection, query_stems: set[str]) -> dict[tuple[str, str], Match]:
    """The best-scoring match of each (query stem, reference stem) pair among the scored queries.

    Several uploads can share a stem (q1.jpg and q1.png): their matches are pooled, keeping the best,
    since a prediction file holds one score per pair.
    """
    best: dict[tuple[str, str], Match] = {}
    rows = (
        Match.objects.filter(query__collection=collection)
        .select_related("query", "reference")
        .order_by("-final_score", "rank", "id")
    )
    for match in rows:
        query_stem = Path(match.query.original_name).stem
        if query_stem not in query_stems:
            continue
        best.setdefault((query_stem, Path(match.reference.original_name).stem), match)
    return best


def _mismatch(ids: Iterable[str]) -> Mismatch:
    ids = sorted(ids)
    return Mismatch(count=len(ids), examples=ids[:EXAMPLE_IDS])


def _group_row(name: str, n_queries: int, metrics: MatchingMetrics) -> GroupRow:
    if metrics.n_ground_truth == 0 or math.isnan(metrics.micro_ap):
        return GroupRow(name, n_queries, 0, None, None, None)
    return GroupRow(
        name, n_queries, metrics.n_ground_truth, metrics.micro_ap, metrics.recall_at_p90, metrics.threshold_at_p90
    )


def _family_rows(
    predictions: Sequence[Prediction], truth: Sequence[tuple[str, str]], edits: Mapping[str, QueryEdits]
) -> list[GroupRow]:
    """One row per edit family; a query with several families counts in each of them."""
    members: dict[str, set[str]] = defaultdict(set)
    for query_id, query_edits in edits.items():
        for family in query_edits.families:
            members[family].add(query_id)
    rows = []
    for family in sorted(members):
        in_family = members[family]
        metrics = matching_evaluate(
            predictions=[p for p in predictions if p.query_id in in_family],
            ground_truth=[row for row in truth if row[0] in in_family],
        )
        rows.append(_group_row(family, len(in_family), metrics))
    return rows


def _difficulty_rows(per_group: Mapping[str, MatchingMetrics], difficulty_of: Mapping[str, str]) -> list[GroupRow]:
    """One row per difficulty, easy → medium → hard, then any other label."""
    sizes: dict[str, int] = defaultdict(int)
    for difficulty in difficulty_of.values():
        sizes[difficulty] += 1
    return [_group_row(name, sizes[name], per_group[name]) for name in _difficulty_order(per_group)]


def _difficulty_order(names: Iterable[str]) -> list[str]:
    known = {name: index for index, name in enumerate(DIFFICULTY_ORDER)}
    return sorted(names, key=lambda name: (known.get(name, len(known)), name))


def _worst_misses(
    pairs: set[tuple[str, str]],
    matches: Mapping[tuple[str, str], Match],
    queries: Mapping[str, list[QueryImage]],
    references: Mapping[str, list[ReferenceImage]],
    threshold: float,
) -> list[Miss]:
    """True pairs the collection got wrong: never among the candidates first, then those scored lowest.
    A pair flagged as a copy (at or above the threshold) with no false candidate above it is a hit, not a miss."""
    best_false: dict[str, float] = {}
    for (query_id, reference_id), match in matches.items():
        if (query_id, reference_id) not in pairs:
            best_false[query_id] = max(best_false.get(query_id, match.final_score), match.final_score)

    def reason(pair: tuple[str, str]) -> str | None:
        match = matches.get(pair)
        if match is None:
            return "not in candidates"
        if match.final_score < threshold:
            return "below the threshold"
        if best_false.get(pair[0], -1.0) > match.final_score:
            return "a false candidate ranks above it"
        return None

    def badness(pair: tuple[str, str]) -> tuple:
        match = matches.get(pair)
        return (0, 0.0, pair) if match is None else (1, match.final_score, pair)

    missed = [pair for pair in pairs if reason(pair) is not None]
    misses = []
    for query_id, reference_id in sorted(missed, key=badness)[:WORST_LIMIT]:
        match = matches.get((query_id, reference_id))
        misses.append(
            Miss(
                query_id=query_id,
                reference_id=reference_id,
                query=match.query if match else queries[query_id][0],
                reference=match.reference if match else (references.get(reference_id) or [None])[0],
                score=match.final_score if match else None,
                rank=match.rank if match else None,
                reason=reason((query_id, reference_id)),
            )
        )
    return misses


def _worst_false_alarms(pairs: set[tuple[str, str]], matches: Mapping[tuple[str, str], Match]) -> list[FalseAlarm]:
    wrong = [(pair, match) for pair, match in matches.items() if pair not in pairs]
    wrong.sort(key=lambda item: (-item[1].final_score, item[0]))
    return [FalseAlarm(q, r, match) for (q, r), match in wrong[:WORST_LIMIT]]
