"""The review queue, one item at a time or in bulk, and the team's allowlist."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from search.collection import selectors as collection_selectors
from search.core import permissions
from search.core.forms import form_errors
from search.queries import selectors as queries_selectors
from search.review import selectors, services
from search.review.forms import ReviewForm
from search.review.models import ReviewDecision
from search.teams import selectors as teams_selectors

# Key hints name only keys that do something for this user on this page (review.js clicks the element
# whose data-shortcut names the key): a viewer, or a moderator whose item another holds, gets fewer.
VERDICT_KEYS = [
    ("c", "confirm copy"),
    ("r", "reject (not a copy)"),
    ("s", "skip"),
    ("u", "undo my last verdict"),
]


def _item_keys(*, has_previous: bool, can_decide: bool) -> list[tuple[str, str]]:
    keys = [("j / →", "next item")] + ([("k / ←", "previous item")] if has_previous else [])
    return keys + (VERDICT_KEYS if can_decide else []) + [("Esc", "back to the queue")]


def _list_keys(*, can_review: bool, can_undo: bool) -> list[tuple[str, str]]:
    keys = [("j / k", "move between rows"), ("Enter", "open")]
    if can_review:
        keys += [("x", "select"), ("c / r", "confirm / reject the selected rows (or the focused one)")]
    return keys + ([("u", "undo my last verdict")] if can_undo else [])


def _item_url(match_id: int, filters: selectors.QueueFilter) -> str:
    query = filters.querystring()
    return reverse("search:review_item", args=[match_id]) + (f"?{query}" if query else "")


def _queue_url(filters: selectors.QueueFilter) -> str:
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
    filters = selectors.queue_filter_parse(request.GET)
    items = selectors.review_items(user=request.user, filters=filters)
    reviewable = teams_selectors.team_ids_with_role(user=request.user, minimum=permissions.REVIEW)
    counts = selectors.review_item_counts(user=request.user, filters=filters)
    tabs = [
        (state, counts[state], _queue_url(selectors.QueueFilter(**{**filters.__dict__, "state": state})))
        for state in selectors.STATES
    ]
    first_free = next((item for item in items if not item.claimed_by_other(request.user)), None)
    last_verdict = selectors.last_verdict(user=request.user)
    return render(
        request,
        "search/review.html",
        {
            "items": items[:200],
            "matches": [item.match for item in items],
            "filters": filters,
            "states": selectors.STATES,
            "orders": selectors.ORDERS,
            "counts": counts,
            "tabs": tabs,
            "collections": collection_selectors.collection_list(user=request.user),
            "reviewable_team_ids": reviewable,
            "start_url": _item_url(first_free.match.id, filters) if first_free else None,
            "querystring": filters.querystring(),
            "last_verdict": last_verdict,
            "keys": _list_keys(can_review=bool(reviewable), can_undo=last_verdict is not None),
        },
    )


@login_required
def review_item(request: HttpRequest, match_id: int) -> HttpResponse:
    """One item side by side with its matched keypoints; a moderator who opens it claims it."""
    filters = selectors.queue_filter_parse(request.GET)
    item = selectors.review_item_get(user=request.user, match_id=match_id)
    match = item.match
    membership = teams_selectors.membership_for(user=request.user, collection=match.query.collection)
    claimed = membership.can_review and services.match_claim(actor=request.user, match=match)
    match.refresh_from_db()
    previous, following = selectors.neighbours(user=request.user, filters=filters, match=match)
    view = queries_selectors._match_view(match.query, match, match.query.collection.match_threshold)
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
            "history": selectors.match_history(item=item),
            "claim_minutes": round(services.claim_expiry().total_seconds() / 60),
            "keys": _item_keys(has_previous=previous is not None, can_decide=bool(membership.can_review and claimed)),
        },
    )


@login_required
@require_POST
def review_verdict(request: HttpRequest, match_id: int) -> HttpResponse:
    match = queries_selectors.match_get(user=request.user, match_id=match_id)
    decision = request.POST.get("decision", "")
    if decision not in ReviewDecision.values:
        return HttpResponse("Unknown decision.", status=400)
    try:
        if decision == ReviewDecision.UNREVIEWED:
            services.verdict_undo(actor=request.user, match=match)
        else:
            services.verdict_set(actor=request.user, match=match, decision=decision)
    except services.ClaimedByOther as exc:
        messages.error(request, str(exc))
        return redirect(_safe_next(request, reverse("search:review_dashboard")))
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_skip(request: HttpRequest, match_id: int) -> HttpResponse:
    match = queries_selectors.match_get(user=request.user, match_id=match_id)
    permissions.role_require(user=request.user, team=match.query.collection.team_id, minimum=permissions.REVIEW)
    services.match_release(actor=request.user, match=match)
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    """Verdicts (or undos) for the selected items; ids outside the user's teams are ignored."""
    decision = request.POST.get("decision", "")
    if decision not in ReviewDecision.values:
        return HttpResponse("Unknown decision.", status=400)
    ids = [int(value) for value in request.POST.getlist("match_ids") if value.isdigit()]
    matches = selectors.matches_of(user=request.user, match_ids=ids)
    done = services.verdicts_bulk(actor=request.user, matches=matches, decision=decision)
    messages.success(request, f"{done} item{'s' if done != 1 else ''}: {ReviewDecision(decision).label}.")
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
@require_POST
def review_undo(request: HttpRequest) -> HttpResponse:
    """Takes back the user's last verdict and reopens its item."""
    undone = services.verdict_undo_last(actor=request.user, count=1)
    if not undone:
        messages.info(request, "No verdict of yours to undo.")
        return redirect(_safe_next(request, reverse("search:review_dashboard")))
    messages.success(request, "Verdict undone: the item is back in the queue.")
    filters = selectors.queue_filter_parse(request.POST)
    return redirect(_item_url(undone[0].id, filters))


@login_required
@require_POST
def review_allowlist(request: HttpRequest, match_id: int) -> HttpResponse:
    match = queries_selectors.match_get(user=request.user, match_id=match_id)
    entry = services.allowlist_add(
        actor=request.user,
        match=match,
        reason=request.POST.get("reason", ""),
        every_reference=request.POST.get("scope") == "team",
    )
    messages.success(request, f"Marked benign ({entry.reason}): its copies no longer count as matches.")
    return redirect(_safe_next(request, reverse("search:review_dashboard")))


@login_required
def team_allowlist(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = teams_selectors.team_get(user=request.user, slug=team_slug)
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
    team, _ = teams_selectors.team_get(user=request.user, slug=team_slug)
    entry = selectors.allowlist_entry_get(user=request.user, team=team, entry_id=entry_id)
    services.allowlist_remove(actor=request.user, entry=entry)
    messages.success(request, f"Removed from the allowlist ({entry.reason}): its copies count as matches again.")
    return redirect("search:team_allowlist", team_slug=team.slug)


@login_required
@require_POST
def match_review(request: HttpRequest, match_id: int) -> HttpResponse:
    match = queries_selectors.match_get(user=request.user, match_id=match_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        services.match_review(match=match, reviewer=request.user, decision=form.cleaned_data["decision"])
    else:
        messages.error(request, form_errors(form))
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("search:review_dashboard")
