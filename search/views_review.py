"""The review queue, one item at a time or in bulk, single-reference deletion, and the team dashboard."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from search import dashboard, permissions, references, review, review_queue, selectors, services
from search.models import Collection, ReviewDecision, Role

KEYS = [
    ("j / →", "next item"),
    ("k / ←", "previous item"),
    ("c", "confirm copy"),
    ("r", "reject (not a copy)"),
    ("s", "skip"),
    ("u", "undo my last verdict"),
]


def _item_url(match_id: int, filters: review_queue.QueueFilter) -> str:
    query = filters.querystring()
    return reverse("search:review_item", args=[match_id]) + (f"?{query}" if query else "")


def _queue_url(filters: review_queue.QueueFilter) -> str:
    query = filters.querystring()
    return reverse("search:review_dashboard") + (f"?{query}" if query else "")


def _safe_next(request: HttpRequest, fallback: str) -> str:
    next_url = request.POST.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return next_url
    return fallback


@login_required
def review_dashboard(request: HttpRequest) -> HttpResponse:
    """The queue: filters, tabs per state, bulk verdicts; each row opens the one-item review page."""
    filters = review_queue.queue_filter_parse(request.GET)
    items = review_queue.review_items(user=request.user, filters=filters)
    reviewable = selectors.team_ids_with_role(user=request.user, minimum=permissions.REVIEW)
    counts = review_queue.review_item_counts(user=request.user, filters=filters)
    tabs = [
        (state, counts[state], _queue_url(review_queue.QueueFilter(**{**filters.__dict__, "state": state})))
        for state in review_queue.STATES
    ]
    first_free = next((item for item in items if not item.claimed_by_other(request.user)), None)
    return render(
        request,
        "search/review.html",
        {
            "items": items[:200],
            "matches": [item.match for item in items],
            "filters": filters,
            "states": review_queue.STATES,
            "orders": review_queue.ORDERS,
            "counts": counts,
            "tabs": tabs,
            "collections": selectors.collection_list(user=request.user),
            "reviewable_team_ids": reviewable,
            "start_url": _item_url(first_free.match.id, filters) if first_free else None,
            "querystring": filters.querystring(),
            "last_verdict": review_queue.last_verdict(user=request.user),
            "keys": KEYS,
        },
    )


@login_required
def review_item(request: HttpRequest, match_id: int) -> HttpResponse:
    """One item side by side with its matched keypoints; a moderator who opens it claims it."""
    filters = review_queue.queue_filter_parse(request.GET)
    item = review_queue.review_item_get(user=request.user, match_id=match_id)
    match = item.match
    membership = selectors.membership_for(user=request.user, collection=match.query.collection)
    claimed = membership.can_review and review.match_claim(actor=request.user, match=match)
    match.refresh_from_db()
    previous, following = review_queue.neighbours(user=request.user, filters=filters, match=match)
    view = selectors._match_view(match.query, match, match.query.collection.match_threshold)
    return render(
        request,
        "search/review_item.html",
        {
            "item": item,
            "match": match,
            "v": view,
            "query": match.query,
            "membership": membership,
            "claimed": claimed,
            "filters": filters,
            "querystring": filters.querystring(),
            "previous_url": _item_url(previous.match.id, filters) if previous else None,
            "next_url": _item_url(following.match.id, filters) if following else _queue_url(filters),
            "queue_url": _queue_url(filters),
            "history": review_queue.match_history(item=item),
            "claim_minutes": round(review.claim_expiry().total_seconds() / 60),
            "keys": KEYS,
        },
    )


@login_required
@require_POST
def review_verdict(request: HttpRequest, match_id: int) -> HttpResponse:
    match = selectors.match_get(user=request.user, match_id=match_id)
    decision = request.POST.get("decision", "")
    if decision not in ReviewDecision.values:
        return HttpResponse("Unknown decision.", status=400)
    try:
        if decision == ReviewDecision.UNREVIEWED:
            review.verdict_undo(actor=request.user, match=match)
        else:
            review.verdict_set(actor=request.user, match=match, decision=decision)
    except review.ClaimedByOther as exc:
        messages.error(request, str(exc))
        return redirect(_safe_next(request, reverse("search:review_dashboard")))
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_skip(request: HttpRequest, match_id: int) -> HttpResponse:
    match = selectors.match_get(user=request.user, match_id=match_id)
    permissions.role_require(user=request.user, team=match.query.collection.team_id, minimum=permissions.REVIEW)
    review.match_release(actor=request.user, match=match)
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    """Verdicts (or undos) for the selected items; ids outside the user's teams are ignored."""
    decision = request.POST.get("decision", "")
    if decision not in ReviewDecision.values:
        return HttpResponse("Unknown decision.", status=400)
    ids = [int(value) for value in request.POST.getlist("match_ids") if value.isdigit()]
    matches = review_queue.matches_of(user=request.user, match_ids=ids)
    done = review.verdicts_bulk(actor=request.user, matches=matches, decision=decision)
    messages.success(request, f"{done} item{'s' if done != 1 else ''}: {ReviewDecision(decision).label}.")
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_undo(request: HttpRequest) -> HttpResponse:
    """Takes back the user's last verdict and reopens its item."""
    undone = review.verdict_undo_last(actor=request.user, count=1)
    if not undone:
        messages.info(request, "No verdict of yours to undo.")
        return redirect(_safe_next(request, reverse("search:review_dashboard")))
    messages.success(request, "Verdict undone: the item is back in the queue.")
    filters = review_queue.queue_filter_parse(request.POST)
    return redirect(_item_url(undone[0].id, filters))


@login_required
@require_POST
def review_allowlist(request: HttpRequest, match_id: int) -> HttpResponse:
    match = selectors.match_get(user=request.user, match_id=match_id)
    entry = review.allowlist_add(
        actor=request.user,
        match=match,
        reason=request.POST.get("reason", ""),
        every_reference=request.POST.get("scope") == "team",
    )
    messages.success(request, f"Marked benign ({entry.reason}): its copies no longer count as matches.")
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def reference_delete(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    references.reference_delete(actor=request.user, reference=reference)
    days = references.grace_period().days
    messages.success(request, f"{reference.original_name} deleted; it can be restored for {days} days.")
    return redirect("search:collection_detail", collection_id=reference.collection_id)


@login_required
@require_POST
def reference_restore(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    if references.reference_restore(actor=request.user, reference=reference):
        messages.success(request, f"{reference.original_name} restored.")
    else:
        messages.error(request, "The grace period is over; the reference can no longer be restored.")
    return redirect("search:collection_detail", collection_id=reference.collection_id)


@login_required
@require_POST
def reference_disable(request: HttpRequest, reference_id: int) -> HttpResponse:
    """Disable for N days (0: enable again); settles a quarantine too."""
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    try:
        days = max(0, min(int(request.POST.get("days", "7")), 3650))
    except ValueError:
        days = 7
    until = timezone.now() + timedelta(days=days) if days else None
    references.reference_disable(actor=request.user, reference=reference, until=until)
    messages.success(request, f"{reference.original_name} {f'disabled for {days} days' if days else 'enabled'}.")
    return redirect(_safe_next(request, reverse("search:collection_detail", args=[reference.collection_id])))


@login_required
@require_POST
def reference_release(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    references.reference_release(actor=request.user, reference=reference)
    messages.success(request, f"{reference.original_name} released from quarantine.")
    return redirect(_safe_next(request, reverse("search:collection_detail", args=[reference.collection_id])))


@login_required
def dashboard_home(request: HttpRequest) -> HttpResponse:
    """The dashboard of the user's first team (each team page links to its own)."""
    team = selectors.team_list(user=request.user).first()
    if team is None:
        messages.info(request, "You are not in a team yet.")
        return redirect("search:team_list")
    return redirect("search:team_dashboard", team_slug=team.slug)


@login_required
def team_dashboard(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = selectors.team_get(user=request.user, slug=team_slug)
    board = dashboard.team_dashboard(team=team)
    chart = {
        "days": board.days,
        "matches": board.matches_per_day,
        "verdicts": board.verdicts_per_day,
        "curves": [{"name": p.collection.name, "points": p.curve} for p in board.precision if p.curve],
    }
    return render(
        request,
        "search/dashboard.html",
        {"team": team, "membership": membership, "board": board, "board_chart": chart},
    )


@login_required
@require_POST
def dashboard_threshold(request: HttpRequest, team_slug: str) -> HttpResponse:
    """One click: sets a collection's threshold to the one the dashboard suggests (audited as a change)."""
    team, membership = selectors.team_get(user=request.user, slug=team_slug)
    if not membership.at_least(Role.ADMIN):
        raise PermissionDenied(f"This needs the admin role or higher in {team}.")
    collection_id = request.POST.get("collection", "")
    collection = Collection.objects.filter(team=team, id=int(collection_id) if collection_id.isdigit() else 0).first()
    try:
        threshold = float(request.POST.get("threshold", ""))
    except ValueError:
        threshold = None
    if collection is None or threshold is None or not 0.0 <= threshold <= 1.0:
        messages.error(request, "Pick a collection and a threshold between 0 and 1.")
    else:
        services.collection_update(
            actor=request.user,
            collection=collection,
            name=collection.name,
            description=collection.description,
            match_threshold=threshold,
        )
        messages.success(request, f"Threshold of {collection.name} set to {threshold:.3f}.")
    return redirect("search:team_dashboard", team_slug=team.slug)


@login_required
def team_allowlist(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = selectors.team_get(user=request.user, slug=team_slug)
    return render(
        request,
        "search/team_allowlist.html",
        {
            "team": team,
            "entries": selectors.allowlist_list(user=request.user, team=team),
            "can_review": membership.can_review,
        },
    )


@login_required
@require_POST
def allowlist_remove(request: HttpRequest, team_slug: str, entry_id: int) -> HttpResponse:
    team, _ = selectors.team_get(user=request.user, slug=team_slug)
    entry = selectors.allowlist_entry_get(user=request.user, team=team, entry_id=entry_id)
    review.allowlist_remove(actor=request.user, entry=entry)
    messages.success(request, f"Removed from the allowlist ({entry.reason}): its copies count as matches again.")
    return redirect("search:team_allowlist", team_slug=team.slug)
