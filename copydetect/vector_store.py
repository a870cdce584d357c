"""Descriptor vectors in Milvus: one collection per descriptor-model version.

The only module that imports pymilvus. Rows are keyed by the database id of the reference image
and carry the id of the user collection they belong to, so every search can stay inside one user
collection. A reindex fills a new collection beside the live one, then `alias_point` swaps the
alias the readers follow.

Isolation by user collection: `collection_id` is the Milvus partition key. Milvus hashes it into
`num_partitions` physical partitions, so a search filtered on one user collection only visits the
segments of one partition (about 1/num_partitions of the rows) and filters the few other user
collections hashed there. Without the key, a filtered HNSW search walks the graph of every segment
and throws away most of what it finds. docs/performance.md has the measurements behind the defaults.

Collections created before the partition key (plain `collection_id` field) keep working: the same
filter expression is applied, only without partition pruning. A reindex creates the new
collection with the key, so reindexing is the migration.

Hash collections (`hashes_*`): fixed-length bit strings (PDQ's 256 bits) searched by Hamming distance.
A real Milvus server stores them as BINARY_VECTOR with an exact BIN_FLAT index and the HAMMING metric.
Milvus Lite refuses BINARY_VECTOR, so there each bit becomes ±1 in a float vector searched exactly (FLAT)
by inner product: for two ±1 vectors of n bits, IP = n − 2 × Hamming, so a Hamming radius is an inner
product bound and the distance comes back exact. Same rows, ids, partition key and methods either way.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.exceptions import MilvusUnavailableException

ID_FIELD = "id"
COLLECTION_ID_FIELD = "collection_id"
VECTOR_FIELD = "vector"

# Partitions the partition key hashes user collections into. Milvus's default is 16 and its
# ceiling 1024; 64 keeps one partition at ~16k rows per million vectors (see docs/performance.md).
NUM_PARTITIONS = 64
MAX_TOP_K = 16_384  # Milvus rejects larger limits
MAX_PARTITIONS = 1024  # Milvus's default ceiling for partitions per collection
LITE_VERSION_PREFIX = "milvus_lite"
LITE_BUCKET_PREFIX = "_pk_"
# Metric name -> whether a larger Milvus distance means more similar.
METRIC_HIGHER_IS_CLOSER = {"IP": True, "COSINE": True, "L2": False}
HAMMING = "HAMMING"
# Texts of the error a server gives when it has no BINARY_VECTOR (Milvus Lite 3.2.2).
_NO_BINARY_TEXTS = ("binaryvector", "binary_vector", "binary vector")

NAME_PREFIX = "emb_"
# Collection property naming the form of a hash collection stored as ±1 floats.
HASH_PROPERTY = "isc.hash_form"
MAX_NAME_LENGTH = 255
NAME_DIGEST_LENGTH = 8
VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# A search waits for nothing ("Session": other processes' writes are seen once the server has consumed
# them, within one time tick, 200 ms on Milvus standalone), except the first search of a collection
# after this store wrote to it, which is "Strong" so that a store always sees its own upserts and
# deletes (Milvus 2.3.5's Session level did not show a delete to the next search of the same client).
# Strong on every search waits for the next time tick: a search over 16 rows took p50 201 ms on Milvus
# 2.3.5 with it, 5.5 ms without (docs/performance.md). Counts, id lists and presence checks
# (reconciliation, right after a write elsewhere) are always Strong.
SEARCH_CONSISTENCY = "Session"

# gRPC refuses messages over 64 MiB by default; stay well below it.
UPSERT_BATCH_BYTES = 16 * 2**20
INDEX_POLL_SECONDS = 0.2

# Status codes shared by Milvus Lite and Milvus standalone / cluster.
COLLECTION_NOT_FOUND = 100
COLLECTION_NOT_LOADED = 101

T = TypeVar("T")


@dataclass(frozen=True)
class Hit:
    """One neighbour. `score`: higher = more similar (the inner product for IP, minus the squared
    Euclidean distance for L2)."""

    id: int
    score: float


@dataclass(frozen=True)
class HashHit:
    """One stored hash within the asked Hamming radius of a query hash."""

    id: int
    distance: int


@dataclass(frozen=True)
class IndexSpec:
    """How the vector field is indexed and searched.

    `build`: index parameters (HNSW: M, efConstruction; IVF_*: nlist). `search`: search parameters
    (HNSW: ef, raised to 2 × top_k when smaller: Milvus needs ef ≥ top_k, and the margin keeps
    recall up for long result lists; IVF_*: nprobe).
    """

    kind: str = "HNSW"
    build: Mapping[str, int] = field(default_factory=lambda: {"M": 16, "efConstruction": 200})
    search: Mapping[str, int] = field(default_factory=lambda: {"ef": 64})

    def search_params(self, top_k: int) -> dict[str, int]:
        params = dict(self.search)
        if "ef" in params:
            params["ef"] = max(params["ef"], 2 * top_k)
        return params


DEFAULT_INDEX = IndexSpec()


class CollectionMissingError(LookupError):
    """The descriptor-model version has no collection yet: call `collection_ensure` first."""


class VectorStoreUnavailable(ConnectionError):
    """Milvus cannot be reached (down, restarting, network): a transient error, worth retrying.

    The message is a plain sentence fit for a page; the pymilvus error is kept as `__cause__`.
    """

    def __init__(self, message: str = "The search backend is unavailable.") -> None:
        super().__init__(message)


# What pymilvus says when the server cannot be reached (codes and texts seen with pymilvus 3.0).
_UNAVAILABLE_CODES = {2, 503}
_UNAVAILABLE_TEXTS = ("fail connecting", "server unavailable", "unavailable", "connection", "deadline", "socket")


def error_is_unavailable(error: BaseException) -> bool:
    """Whether `error`, raised by pymilvus, means the server is out of reach rather than the request wrong."""
    if isinstance(error, (ConnectionError, TimeoutError, MilvusUnavailableException)):
        return True
    if isinstance(error, grpc.RpcError):
        code = error.code() if callable(getattr(error, "code", None)) else None
        return code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED)
    if isinstance(error, MilvusException):
        text = str(getattr(error, "message", "") or error).lower()
        return error.code in _UNAVAILABLE_CODES and any(word in text for word in _UNAVAILABLE_TEXTS)
    return False


# Pauses before each fresh connection a call tries after its channel failed: a dropped idle channel
# needs none, a server that is restarting a moment.
RECONNECT_PAUSES = (0.0, 0.5, 2.0)


class _GuardedClient:
    """Wraps a MilvusClient: a call that fails because the server is out of reach is tried again on a
    fresh connection, once after each pause of RECONNECT_PAUSES (three tries, 2.5 s of pauses in all);
    if every try fails, the client is closed and VectorStoreUnavailable raised, so the next call opens a
    fresh connection again. A call that fails for another reason is raised at once, never retried.

    Why a fresh connection: pymilvus recovers its own channel in place, but after a Milvus restart that
    recovery kept failing for 20-55 s ("Connection recovery failed"); and an idle channel is closed by
    the server (GOAWAY "too_many_pings": pymilvus pings every 10 s, more often than a gRPC server allows
    an idle client), so the first call after a quiet minute fails although the server is up.
    """

    def __init__(
        self, client: MilvusClient, *, reconnect: Callable[[], MilvusClient], on_unavailable: Callable[[], None]
    ) -> None:
        self._client = client
        self._reconnect = reconnect
        self._on_unavailable = on_unavailable

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def guarded(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except Exception as error:
                if not error_is_unavailable(error):
                    raise
                first_error = error
            for pause in RECONNECT_PAUSES:
                try:
                    self._client.close()
                except Exception:  # the broken channel may refuse to close; it is dropped either way
                    pass
                time.sleep(pause)
                try:
                    self._client = self._reconnect()
                    return getattr(self._client, name)(*args, **kwargs)
                except Exception as error:
                    if not error_is_unavailable(error):
                        raise
            self._on_unavailable()
            raise VectorStoreUnavailable() from first_error

        return guarded


@dataclass(frozen=True)
class _Layout:
    name: str
    dim: int
    metric: str
    # False for collections created before collection_id became the partition key.
    partition_key: bool
    # Milvus Lite only: how many hash buckets (partitions) the partition key fills; None elsewhere.
    lite_buckets: int | None = None
    # Hash collections: "binary" (BINARY_VECTOR, HAMMING) or "signs" (±1 FLOAT_VECTOR, IP); None for
    # descriptor collections. `dim` is then the number of bits.
    hash_form: str | None = None


def collection_name(model_version: str) -> str:
    """Milvus name of the collection holding `model_version`'s vectors.

    Readable prefix for people browsing Milvus, plus a digest of the raw version because
    sanitising maps e.g. "sscd/1.0" and "sscd_1_0" to the same text.
    """
    if not model_version:
        raise ValueError("model_version must be a non-empty string")
    digest = hashlib.sha256(model_version.encode()).hexdigest()[:NAME_DIGEST_LENGTH]
    readable = re.sub(r"[^A-Za-z0-9_]", "_", model_version)
    room = MAX_NAME_LENGTH - len(NAME_PREFIX) - len(digest) - 1
    return f"{NAME_PREFIX}{readable[:room]}_{digest}"


class VectorStore:
    """Thin, typed access to Milvus for the pipeline. Not thread-safe; one per worker process."""

    def __init__(
        self,
        *,
        uri: str,
        token: str = "",
        timeout: float = 30.0,
        index: IndexSpec = DEFAULT_INDEX,
        num_partitions: int | None = NUM_PARTITIONS,
    ) -> None:
        """`index` and `num_partitions` apply to collections this store creates; existing ones keep
        theirs. `num_partitions=None` creates the layout used before the partition key (collection_id
        a plain field), kept for comparison and for tests of older collections. Milvus Lite 3.2.2
        ignores the number and always makes 16 partitions; standalone and cluster honour it."""
        if num_partitions is not None and not 1 <= num_partitions <= MAX_PARTITIONS:
            raise ValueError(f"num_partitions must be in 1..{MAX_PARTITIONS} or None, got {num_partitions}")
        self._uri = uri
        self._token = token
        self._timeout = timeout
        self._index = index
        self._num_partitions = num_partitions
        self._client: _GuardedClient | None = None
        self._client_pid: int | None = None
        self._layouts: dict[str, _Layout] = {}
        self._loaded: set[str] = set()
        # Collections this store wrote to since its last Strong search of them.
        self._written: set[str] = set()

    @property
    def index(self) -> IndexSpec:
        return self._index

    def close(self) -> None:
        client, self._client = self._client, None
        self._layouts.clear()
        self._loaded.clear()
        if client is not None:
            try:
                client._client.close()
            except Exception:  # closing a connection to a dead server may fail; it is dropped either way
                pass

    def server_check(self) -> int:
        """Raises VectorStoreUnavailable when Milvus cannot be reached; returns the number of collections."""
        return len(self._milvus.list_collections())

    # Collections

    def collection_ensure(self, *, model_version: str, dim: int, metric: str = "IP") -> str:
        """Create the collection if needed (idempotent), load it, and return its Milvus name."""
        metric = _checked_metric(metric)
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        name = collection_name(model_version)
        if not self._milvus.has_collection(name):
            self._collection_create(name=name, dim=dim, metric=metric)
        layout = self._layout(model_version)
        if layout is None:
            raise CollectionMissingError(f"{name} vanished right after it was created")
        if (layout.dim, layout.metric) != (dim, metric):
            raise ValueError(
                f"collection {name} for {model_version!r} exists with dim={layout.dim}, "
                f"metric={layout.metric}; asked for dim={dim}, metric={metric}"
            )
        self._load(name)
        return name

    def collection_exists(self, *, model_version: str) -> bool:
        return bool(self._milvus.has_collection(collection_name(model_version)))

    def collection_dim(self, *, model_version: str) -> int | None:
        """The vector dimension of the version's collection, or None when it has none."""
        layout = self._layout(model_version)
        return layout.dim if layout else None

    def collection_partitioned(self, *, model_version: str) -> bool:
        """Whether the version's collection isolates user collections by partition key (False for
        collections created before it did, and for missing ones)."""
        layout = self._layout(model_version)
        return bool(layout and layout.partition_key)

    def collection_drop(self, *, model_version: str) -> None:
        """Drop a collection no alias points at; dropping an unknown one does nothing."""
        self.collection_drop_named(collection_name(model_version))

    def collection_flush(self, *, model_version: str, timeout: float = 600.0) -> None:
        """Seal what was written and wait until the index covers it.

        Call before pointing an alias at a freshly built collection, so that its first readers
        get HNSW search rather than brute force over unindexed segments. Milvus Lite 3.2.2 reports
        every row indexed at once and builds its indexes later on a background thread, so there this
        returns early and the first searches are slower (docs/performance.md).
        """
        layout = self._require_layout(model_version)
        self._milvus.flush(layout.name)
        deadline = time.monotonic() + timeout
        while self._milvus.describe_index(layout.name, VECTOR_FIELD)["pending_index_rows"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"index of {layout.name} not built after {timeout}s")
            time.sleep(INDEX_POLL_SECONDS)

    # Vectors

    def vectors_upsert(
        self,
        *,
        model_version: str,
        ids: Sequence[int],
        vectors: np.ndarray,
        collection_ids: Sequence[int],
    ) -> None:
        """Insert or replace rows (idempotent: writing an id again replaces its row).

        Deletes the ids, then inserts the rows, rather than Milvus's `upsert`: on Milvus 2.3.5 an
        upsert into a collection with a partition key routes rows to the wrong partition (a filtered
        count then misses them), and an upsert that changes a row's key may leave the old row in its
        old partition. Delete + insert is what upsert does inside Milvus, with the routing of insert.
        """
        layout = self._require_layout(model_version)
        if layout.hash_form is not None:
            raise ValueError(f"{model_version!r} holds hashes: write it with hashes_upsert")
        matrix = _checked_matrix(vectors, layout, model_version)
        row_ids = _checked_ids(ids, expected=len(matrix), what="ids")
        owner_ids = _checked_ids(collection_ids, expected=len(matrix), what="collection_ids")
        if len(set(row_ids.tolist())) != len(row_ids):
            raise ValueError("ids contain duplicates; each row must appear once per upsert")
        rows_per_batch = max(1, UPSERT_BATCH_BYTES // (4 * layout.dim))
        for start in range(0, len(matrix), rows_per_batch):
            stop = start + rows_per_batch
            batch_ids = [int(row_id) for row_id in row_ids[start:stop]]
            rows = _rows(row_ids[start:stop], owner_ids[start:stop], matrix[start:stop])
            self._written.add(layout.name)
            self._run_loaded(layout, lambda batch_ids=batch_ids: self._milvus.delete(layout.name, ids=batch_ids))
            self._milvus.insert(layout.name, rows)

    def vectors_delete(self, *, model_version: str, ids: Sequence[int]) -> None:
        layout = self._layout(model_version)
        if layout is None or len(ids) == 0:
            return
        row_ids = [int(row_id) for row_id in ids]
        self._written.add(layout.name)
        self._run_loaded(layout, lambda: self._milvus.delete(layout.name, ids=row_ids))

    def collection_vectors_delete(self, *, model_version: str, collection_id: int) -> None:
        """Delete every row of one user collection."""
        layout = self._layout(model_version)
        if layout is None:
            return
        expression = _collection_filter(collection_id)
        self._written.add(layout.name)
        self._run_loaded(layout, lambda: self._milvus.delete(layout.name, filter=expression))

    def vectors_search(
        self,
        *,
        model_version: str,
        vectors: np.ndarray,
        top_k: int,
        collection_id: int | None = None,
    ) -> list[list[Hit]]:
        """Nearest rows for each query vector, best first; one list per query, in query order."""
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be in 1..{MAX_TOP_K}, got {top_k}")
        layout = self._layout(model_version)
        if layout is None:
            return [[] for _ in range(len(vectors))]
        if layout.hash_form is not None:
            raise ValueError(f"{model_version!r} holds hashes: search it with hashes_search")
        queries = _checked_matrix(vectors, layout, model_version)
        if len(queries) == 0:
            return []
        params = self._index.search_params(top_k)
        try:
            raw = self._run_loaded(layout, lambda: self._search(layout, queries, top_k, collection_id, params))
        except CollectionMissingError:
            return [[] for _ in range(len(queries))]
        sign = 1.0 if METRIC_HIGHER_IS_CLOSER[layout.metric] else -1.0
        return [[Hit(id=int(hit["id"]), score=sign * float(hit["distance"])) for hit in row] for row in raw]

    def vectors_get(self, *, model_version: str, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """Stored vectors by id; ids that are not stored are absent from the result."""
        layout = self._layout(model_version)
        if layout is None or len(ids) == 0:
            return {}
        row_ids = [int(row_id) for row_id in ids]
        rows = self._run_loaded(
            layout, lambda: self._milvus.get(layout.name, ids=row_ids, output_fields=[VECTOR_FIELD])
        )
        return {int(row[ID_FIELD]): np.asarray(row[VECTOR_FIELD], dtype=np.float32) for row in rows}

    def vectors_present(self, *, model_version: str, ids: Sequence[int]) -> set[int]:
        """Which of `ids` the version's collection holds (ids only: no vectors cross the wire)."""
        layout = self._layout(model_version)
        if layout is None or len(ids) == 0:
            return set()
        row_ids = [int(row_id) for row_id in ids]
        rows = self._run_loaded(
            layout,
            lambda: self._milvus.query(
                layout.name,
                filter=f"{ID_FIELD} in {row_ids}",
                output_fields=[ID_FIELD],
                limit=len(row_ids),
                consistency_level="Strong",
            ),
        )
        return {int(row[ID_FIELD]) for row in rows}

    def ids_list(self, *, model_version: str, collection_id: int | None = None, batch_size: int = 10_000) -> list[int]:
        """Every stored row id (of one user collection, or all), ascending.

        Pages through a query iterator, so it is not bound by Milvus's 16,384-row query window.
        """
        layout = self._layout(model_version)
        if layout is None:
            return []
        expression = "" if collection_id is None else _collection_filter(collection_id)

        def collect() -> list[int]:
            # Strong: reconciliation compares these ids with the database right after a write.
            iterator = self._milvus.query_iterator(
                layout.name,
                batch_size=batch_size,
                filter=expression,
                output_fields=[ID_FIELD],
                consistency_level="Strong",
            )
            ids: list[int] = []
            try:
                while page := iterator.next():
                    ids.extend(int(row[ID_FIELD]) for row in page)
            finally:
                iterator.close()
            return ids

        return sorted(self._run_loaded(layout, collect))

    def vectors_count(self, *, model_version: str, collection_id: int | None = None) -> int:
        layout = self._layout(model_version)
        if layout is None:
            return 0
        expression = "" if collection_id is None else _collection_filter(collection_id)
        rows = self._run_loaded(
            layout,
            lambda: self._milvus.query(
                layout.name, filter=expression, output_fields=["count(*)"], consistency_level="Strong"
            ),
        )
        return int(rows[0]["count(*)"])

    # Hashes

    def hashes_collection_ensure(self, *, key: str, bits: int = 256) -> str:
        """Create (idempotent) the hash collection `key` for `bits`-bit hashes, load it, return its name.

        BINARY_VECTOR where the server has it; on a server that refuses it (Milvus Lite), ±1 floats."""
        if bits < 8 or bits % 8:
            raise ValueError(f"bits must be a positive multiple of 8, got {bits}")
        name = collection_name(key)
        if not self._milvus.has_collection(name):
            self._hash_collection_create(name=name, bits=bits)
        layout = self._layout(key)
        if layout is None:
            raise CollectionMissingError(f"{name} vanished right after it was created")
        if layout.hash_form is None or layout.dim != bits:
            raise ValueError(f"collection {name} for {key!r} exists and is not a {bits}-bit hash collection")
        self._load(name)
        return name

    def hashes_form(self, *, key: str) -> str | None:
        """How the key's hashes are stored: "binary" (BINARY_VECTOR, HAMMING) or "signs" (±1 floats, IP)."""
        layout = self._layout(key)
        return layout.hash_form if layout else None

    def hashes_upsert(self, *, key: str, ids: Sequence[int], hashes: np.ndarray, collection_ids: Sequence[int]) -> None:
        """Insert or replace hashes: `hashes` is (n, bits / 8) uint8, most significant bit first."""
        layout = self._require_hash_layout(key)
        packed = _checked_hashes(hashes, layout.dim)
        row_ids = _checked_ids(ids, expected=len(packed), what="ids")
        owner_ids = _checked_ids(collection_ids, expected=len(packed), what="collection_ids")
        if len(set(row_ids.tolist())) != len(row_ids):
            raise ValueError("ids contain duplicates; each row must appear once per upsert")
        rows_per_batch = max(1, UPSERT_BATCH_BYTES // (4 * layout.dim))
        for start in range(0, len(packed), rows_per_batch):
            stop = start + rows_per_batch
            batch_ids = [int(row_id) for row_id in row_ids[start:stop]]
            rows = [
                {ID_FIELD: row_id, COLLECTION_ID_FIELD: int(owner), VECTOR_FIELD: value}
                for row_id, owner, value in zip(
                    batch_ids, owner_ids[start:stop], _hash_values(layout, packed[start:stop])
                )
            ]
            self._written.add(layout.name)
            self._run_loaded(layout, lambda batch_ids=batch_ids: self._milvus.delete(layout.name, ids=batch_ids))
            self._milvus.insert(layout.name, rows)

    def hashes_search(
        self,
        *,
        key: str,
        hashes: np.ndarray,
        max_distance: int,
        top_k: int = 100,
        collection_id: int | None = None,
    ) -> list[list[HashHit]]:
        """Stored hashes within Hamming distance `max_distance` of each query (at most `top_k`, nearest
        first, exact distances); one list per query, in query order. A range search on the server."""
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be in 1..{MAX_TOP_K}, got {top_k}")
        layout = self._layout(key)
        if layout is None:
            return [[] for _ in range(len(hashes))]
        if layout.hash_form is None:
            raise ValueError(f"{key!r} holds descriptors, not hashes")
        packed = _checked_hashes(hashes, layout.dim)
        if not 0 <= max_distance < layout.dim:
            raise ValueError(f"max_distance must be in 0..{layout.dim - 1}, got {max_distance}")
        if len(packed) == 0:
            return []
        queries = _hash_values(layout, packed)
        if layout.hash_form == "binary":
            # Range search keeps range_filter <= distance < radius; distances are whole numbers of bits.
            params = {"radius": max_distance + 1, "range_filter": -1}
        else:
            # IP = bits − 2 × Hamming: Hamming <= r  <=>  IP > bits − 2r − 1 (radius < IP <= range_filter).
            params = {"radius": layout.dim - 2 * max_distance - 1, "range_filter": layout.dim}
        try:
            raw = self._run_loaded(layout, lambda: self._search(layout, queries, top_k, collection_id, params))
        except CollectionMissingError:
            return [[] for _ in range(len(packed))]
        hits = [[HashHit(id=int(hit["id"]), distance=_hamming(layout, hit["distance"])) for hit in row] for row in raw]
        # Servers that ignore the range keep their top_k: the radius is enforced here too.
        return [
            sorted((hit for hit in row if hit.distance <= max_distance), key=lambda hit: (hit.distance, hit.id))
            for row in hits
        ]

    # Aliases

    def alias_point(self, *, alias: str, model_version: str) -> None:
        """Make `alias` name `model_version`'s collection; an existing alias moves atomically."""
        _check_name(alias, what="alias")
        layout = self._require_layout(model_version)
        if alias in self._aliases():
            self._milvus.alter_alias(layout.name, alias)
            return
        try:
            self._milvus.create_alias(layout.name, alias)
        except MilvusException:
            # Another process created it between our listing and our create.
            if alias not in self._aliases():
                raise
            self._milvus.alter_alias(layout.name, alias)

    def alias_target(self, *, alias: str) -> str | None:
        """Milvus name of the collection `alias` points at, or None when there is no such alias."""
        if alias not in self._aliases():
            return None
        return str(self._milvus.describe_alias(alias)["collection_name"])

    def alias_drop(self, *, alias: str) -> None:
        """Removes `alias` (its collection stays); nothing happens when there is no such alias."""
        if alias in self._aliases():
            self._milvus.drop_alias(alias)

    # Reconciliation

    def vector_ids(self, *, model_version: str, batch_size: int = 5000) -> list[int]:
        """Every id stored for `model_version` (empty when it has no collection), read in batches."""
        return self.ids_list(model_version=model_version, batch_size=batch_size)

    def collection_names(self) -> list[str]:
        """Milvus names of every collection this store manages (those named by `collection_name`)."""
        return sorted(name for name in self._milvus.list_collections() if str(name).startswith(NAME_PREFIX))

    def alias_targets(self) -> set[str]:
        """Milvus names of the collections some alias points at."""
        return {str(self._milvus.describe_alias(alias)["collection_name"]) for alias in self._aliases()}

    def collection_drop_named(self, name: str) -> None:
        """Drop a managed collection by its Milvus name (for versions nobody remembers); refuses alias targets."""
        if not name.startswith(NAME_PREFIX):
            raise ValueError(f"{name} is not a collection this store manages")
        if not self._milvus.has_collection(name):
            return
        aliases = _alias_names(self._milvus.list_aliases(name))
        if aliases:
            raise ValueError(f"{name} is still the target of {aliases}; point them elsewhere first")
        self._milvus.drop_collection(name)
        self._forget(name)

    # Internals

    def _client_open_retrying(self) -> MilvusClient:
        first_error: Exception | None = None
        for pause in (0.0, *RECONNECT_PAUSES):
            time.sleep(pause)
            try:
                return self._client_open()
            except Exception as error:
                if not error_is_unavailable(error):
                    raise
                first_error = first_error or error
        raise VectorStoreUnavailable() from first_error

    def _client_open(self) -> MilvusClient:
        # Dedicated: pymilvus shares one channel per address otherwise, and a fresh client would inherit
        # the broken channel after a restart.
        return MilvusClient(uri=self._uri, token=self._token, timeout=self._timeout, dedicated=True)

    @property
    def _milvus(self) -> MilvusClient:
        # A gRPC channel does not survive fork(): a forked Celery worker opens its own.
        if self._client is None or self._client_pid != os.getpid():
            self._layouts.clear()
            self._loaded.clear()
            client = self._client_open_retrying()
            self._client = _GuardedClient(client, reconnect=self._client_open, on_unavailable=self.close)
            self._client_pid = os.getpid()
        return self._client  # type: ignore[return-value]  # quacks like a MilvusClient

    def _collection_create(self, *, name: str, dim: int, metric: str) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        partitioned = self._num_partitions is not None
        schema.add_field(COLLECTION_ID_FIELD, DataType.INT64, is_partition_key=partitioned)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=dim)
        index_params = MilvusClient.prepare_index_params()
        index_params.add_index(
            field_name=VECTOR_FIELD,
            index_type=self._index.kind,
            metric_type=metric,
            params=dict(self._index.build),
        )
        try:
            self._milvus.create_collection(
                name,
                schema=schema,
                index_params=index_params,
                consistency_level="Strong",
                **({"num_partitions": self._num_partitions} if partitioned else {}),
            )
        except MilvusException:
            # Two workers may race to create the same collection; losing that race is fine.
            if not self._milvus.has_collection(name):
                raise

    def _hash_collection_create(self, *, name: str, bits: int) -> None:
        binary = not self._server_is_lite()
        if binary:
            try:
                self._hash_collection_create_as(name=name, bits=bits, binary=True)
                return
            except MilvusException as error:
                if not any(text in str(error).lower() for text in _NO_BINARY_TEXTS):
                    raise
        self._hash_collection_create_as(name=name, bits=bits, binary=False)

    def _hash_collection_create_as(self, *, name: str, bits: int, binary: bool) -> None:
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.INT64, is_primary=True)
        partitioned = self._num_partitions is not None
        schema.add_field(COLLECTION_ID_FIELD, DataType.INT64, is_partition_key=partitioned)
        if binary:
            schema.add_field(VECTOR_FIELD, DataType.BINARY_VECTOR, dim=bits)
        else:
            schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=bits)
        index_params = MilvusClient.prepare_index_params()
        index_params.add_index(
            field_name=VECTOR_FIELD,
            index_type="BIN_FLAT" if binary else "FLAT",
            metric_type=HAMMING if binary else "IP",
            params={},
        )
        try:
            self._milvus.create_collection(
                name,
                schema=schema,
                index_params=index_params,
                consistency_level="Strong",
                # Marks the ±1 form, so that a reopened collection is known as hashes.
                **({} if binary else {"properties": {HASH_PROPERTY: "signs"}}),
                **({"num_partitions": self._num_partitions} if partitioned else {}),
            )
        except MilvusException:
            if not self._milvus.has_collection(name):
                raise

    def _server_is_lite(self) -> bool:
        return str(self._milvus.get_server_version()).startswith(LITE_VERSION_PREFIX)

    def _require_hash_layout(self, key: str) -> _Layout:
        layout = self._require_layout(key)
        if layout.hash_form is None:
            raise ValueError(f"{key!r} holds descriptors, not hashes")
        return layout

    def _layout(self, model_version: str) -> _Layout | None:
        """Dimension and metric of the version's collection (cached), or None if it has none."""
        cached = self._layouts.get(model_version)
        if cached is not None:
            return cached
        name = collection_name(model_version)
        if not self._milvus.has_collection(name):
            return None
        description = self._milvus.describe_collection(name)
        fields = description["fields"]
        vector_field = next(entry for entry in fields if entry["name"] == VECTOR_FIELD)
        owner_field = next(entry for entry in fields if entry["name"] == COLLECTION_ID_FIELD)
        metric = str(self._milvus.describe_index(name, VECTOR_FIELD)["metric_type"]).upper()
        partition_key = bool(owner_field.get("is_partition_key", False))
        hash_form = None
        if vector_field.get("type") == DataType.BINARY_VECTOR:
            hash_form = "binary"
        elif (description.get("properties") or {}).get(HASH_PROPERTY) == "signs":
            hash_form = "signs"
        layout = _Layout(
            name=name,
            dim=int(vector_field["params"]["dim"]),
            metric=metric,
            partition_key=partition_key,
            lite_buckets=self._lite_buckets(name) if partition_key else None,
            hash_form=hash_form,
        )
        self._layouts[model_version] = layout
        return layout

    def _lite_buckets(self, name: str) -> int | None:
        """Number of partition-key buckets when the server is Milvus Lite and they look as expected.

        Milvus standalone and cluster prune partitions from a partition-key filter themselves (and
        refuse explicit partition names on such collections). Milvus Lite 3.2.2 hashes rows into
        buckets `_pk_0`..`_pk_15` by md5 of the key but then searches every bucket, walking each row
        in Python: naming the one bucket makes a filtered search ~16x cheaper (docs/performance.md).
        Any other server or bucket layout gets the plain filter.
        """
        if not self._server_is_lite():
            return None
        buckets = sorted(p for p in self._milvus.list_partitions(name) if p.startswith(LITE_BUCKET_PREFIX))
        expected = sorted(f"{LITE_BUCKET_PREFIX}{index}" for index in range(len(buckets)))
        return len(buckets) if buckets and buckets == expected else None

    def _require_layout(self, model_version: str) -> _Layout:
        layout = self._layout(model_version)
        if layout is None:
            raise CollectionMissingError(
                f"no collection for model version {model_version!r}; call collection_ensure first"
            )
        return layout

    def _forget(self, name: str) -> None:
        self._layouts = {version: layout for version, layout in self._layouts.items() if layout.name != name}
        self._loaded.discard(name)

    def _load(self, name: str) -> None:
        self._milvus.load_collection(name)
        self._loaded.add(name)

    def _run_loaded(self, layout: _Layout, operation: Callable[[], T]) -> T:
        """Run a read against a loaded collection, loading it again if the server released it."""
        if layout.name not in self._loaded:
            self._load(layout.name)
        try:
            return operation()
        except MilvusException as error:
            if error.code == COLLECTION_NOT_FOUND:
                self._forget(layout.name)
                raise CollectionMissingError(f"{layout.name} was dropped") from error
            if error.code != COLLECTION_NOT_LOADED:
                raise
        # A restarted server comes back with every collection released.
        self._load(layout.name)
        return operation()

    def _search(
        self,
        layout: _Layout,
        queries: list | np.ndarray,
        top_k: int,
        collection_id: int | None,
        params: Mapping[str, float],
    ) -> list[list[dict]]:
        pruning = {}
        if collection_id is not None and layout.lite_buckets:
            pruning["partition_names"] = [_lite_bucket(collection_id, layout.lite_buckets)]
        own_writes = layout.name in self._written
        hits = self._milvus.search(
            layout.name,
            data=list(queries),
            limit=top_k,
            filter="" if collection_id is None else _collection_filter(collection_id),
            output_fields=[ID_FIELD],  # otherwise every hit drags its whole vector along
            search_params={"metric_type": layout.metric, "params": dict(params)},
            consistency_level="Strong" if own_writes else SEARCH_CONSISTENCY,
            **pruning,
        )
        if own_writes:
            self._written.discard(layout.name)
        return hits

    def _aliases(self) -> list[str]:
        return _alias_names(self._milvus.list_aliases())


def _checked_metric(metric: str) -> str:
    upper = metric.upper()
    if upper not in METRIC_HIGHER_IS_CLOSER:
        raise ValueError(f"metric must be one of {sorted(METRIC_HIGHER_IS_CLOSER)}, got {metric!r}")
    return upper


def _check_name(name: str, *, what: str) -> None:
    if len(name) > MAX_NAME_LENGTH or not VALID_NAME.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} is not a valid Milvus name (letters, digits, underscore; "
            f"starts with a letter or underscore; at most {MAX_NAME_LENGTH} characters)"
        )


def _checked_matrix(vectors: np.ndarray, layout: _Layout, model_version: str) -> np.ndarray:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != layout.dim:
        raise ValueError(f"vectors for {model_version!r} must have shape (n, {layout.dim}); got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinity")
    return np.ascontiguousarray(matrix)


def _checked_ids(values: Sequence[int], *, expected: int, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.int64).reshape(-1)
    if len(array) != expected:
        raise ValueError(f"{what} has {len(array)} entries for {expected} vectors")
    return array


def _rows(ids: np.ndarray, collection_ids: np.ndarray, vectors: np.ndarray) -> list[dict]:
    return [
        {ID_FIELD: int(row_id), COLLECTION_ID_FIELD: int(owner_id), VECTOR_FIELD: vector}
        for row_id, owner_id, vector in zip(ids, collection_ids, vectors)
    ]


def server_answers(*, uri: str, token: str, timeout: float = 10.0) -> bool:
    """Whether the Milvus at `uri` serves a client holding `token` (False when it refuses or is down)."""
    try:
        client = MilvusClient(uri=uri, token=token, timeout=timeout)
    except MilvusException:
        return False
    try:
        client.list_collections()
        return True
    except MilvusException:
        return False
    finally:
        client.close()


def server_password_change(*, uri: str, user: str, old_password: str, new_password: str, timeout: float = 10.0) -> None:
    """Change `user`'s password on the Milvus at `uri` (signing in with the old one)."""
    client = MilvusClient(uri=uri, token=f"{user}:{old_password}", timeout=timeout)
    try:
        client.update_password(user, old_password, new_password)
    finally:
        client.close()


def hashes_from_hex(hexes: Sequence[str]) -> np.ndarray:
    """Hex hashes (PDQ's 64 hex digits) as the (n, bits / 8) uint8 rows hashes_upsert and hashes_search take."""
    rows = [bytes.fromhex(text) for text in hexes]
    if len({len(row) for row in rows}) > 1:
        raise ValueError("hashes of different lengths")
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), -1) if rows else np.zeros((0, 0), np.uint8)


def _checked_hashes(hashes: np.ndarray, bits: int) -> np.ndarray:
    packed = np.asarray(hashes)
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] * 8 != bits:
        raise ValueError(f"hashes must be uint8 of shape (n, {bits // 8}); got {packed.dtype} {packed.shape}")
    return np.ascontiguousarray(packed)


def _hash_values(layout: _Layout, packed: np.ndarray) -> list:
    if layout.hash_form == "binary":
        return [row.tobytes() for row in packed]
    return list(np.unpackbits(packed, axis=1).astype(np.float32) * 2.0 - 1.0)


def _hamming(layout: _Layout, distance: float) -> int:
    if layout.hash_form == "binary":
        return int(round(distance))
    return int(round((layout.dim - float(distance)) / 2))


def _lite_bucket(collection_id: int, buckets: int) -> str:
    """The Milvus Lite partition holding `collection_id`'s rows (its insert-time hash, md5 of the text)."""
    digest = hashlib.md5(str(int(collection_id)).encode(), usedforsecurity=False).hexdigest()
    return f"{LITE_BUCKET_PREFIX}{int(digest, 16) % buckets}"


def _collection_filter(collection_id: int) -> str:
    # int() keeps the expression free of anything but a number.
    return f"{COLLECTION_ID_FIELD} == {int(collection_id)}"


def _alias_names(listing: dict | list) -> list[str]:
    # pymilvus returns {"aliases": [...], ...}; older releases returned the bare list.
    names = listing.get("aliases", []) if isinstance(listing, dict) else listing
    return [str(name) for name in names]
