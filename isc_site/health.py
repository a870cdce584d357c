"""`/health`: is every dependency reachable, is a worker alive, how long are the queues (JSON).

200 when the database, the broker (Redis) and the search backend (Milvus) answer; 503 when one of
them does not. No worker answering, or long queues, are reported ("degraded") but keep 200: the site
itself still serves pages, and a load balancer should not take it out of rotation for that.

Anyone (a load balancer) gets the status alone; worker names, queue depths, the live index and error texts
describe the installation, so only site staff see them: logged in, or with the API token of a staff user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from copydetect.vector_store import VectorStore, collection_name
from search.core import dispatch

QUEUES = dispatch.QUEUES
# kombu's Redis transport keeps one list per queue and priority step (the plain name is priority 0).
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)
CHECK_TIMEOUT_SECONDS = 2.0
WORKER_PING_SECONDS = 1.0


@never_cache
def health(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _timed(_database_check),
        "broker": _timed(_broker_check),
        "milvus": _timed(_milvus_check),
    }
    # Pinging goes through the broker: without it the answer is known, and waiting would only hang.
    checks["workers"] = (
        _timed(_workers_check) if checks["broker"]["ok"] else {"ok": False, "error": "the broker is down", "ms": 0.0}
    )
    down = [name for name in ("database", "broker", "milvus") if not checks[name]["ok"]]
    status = "down" if down else ("ok" if checks["workers"]["ok"] else "degraded")
    body = {"status": status, "down": down, "checks": checks} if _staff_asks(request) else {"status": status}
    return JsonResponse(body, status=503 if down else 200)


def _staff_asks(request: HttpRequest) -> bool:
    """A staff session, or an `Authorization: Token` of a staff user; a bad token counts as no one."""
    from rest_framework.exceptions import AuthenticationFailed

    from search.api.authentication import HashedTokenAuthentication

    user = request.user
    if not user.is_authenticated:
        try:
            user, _ = HashedTokenAuthentication().authenticate(request) or (user, None)
        except AuthenticationFailed:
            return False
    return bool(user.is_active and user.is_staff)


def _timed(check: Callable[[], dict]) -> dict:
    started = time.perf_counter()
    try:
        result = {"ok": True, **check()}
    except Exception as exc:  # every failure is a finding to report, not a crash of the endpoint
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def _database_check() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _broker_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )


def _broker_check() -> dict:
    client = _broker_client()
    try:
        client.ping()
        depth = {}
        for queue in QUEUES:
            keys = [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]
            depth[queue] = sum(int(client.llen(key)) for key in keys)
        return {"queue_depth": depth}
    finally:
        client.close()


def _milvus_check() -> dict:
    from search.reindex.selectors import index_version_live_get

    alias = settings.ISC.live_alias
    store = VectorStore(uri=settings.ISC.milvus_uri, token=settings.ISC.milvus_token, timeout=CHECK_TIMEOUT_SECONDS)
    try:
        store.server_check()
        live = index_version_live_get()
        target = store.alias_target(alias=alias)
        live_collection = collection_name(live.version) if live else target
        return {
            "descriptor": settings.ISC.descriptor,
            "live_alias": alias,
            "alias_target": target,
            "live_collection": live_collection,
            "live_version": live.version if live else None,
            "live_collection_exists": bool(live_collection) and live_collection in store.collection_names(),
        }
    finally:
        store.close()


def _workers_check() -> dict:
    from isc_site.celery import app

    replies = app.control.ping(timeout=WORKER_PING_SECONDS)
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        raise RuntimeError("no Celery worker answered a ping")
    return {"answered": workers}
