"""Bank pages: every member of the team sees its banks; admins change them, import and delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_POST

from copydetect.hashlists import HashListFormat
from search.banks import exports, imports, selectors, services
from search.banks.forms import BankForm, BankImportForm, HashListExportForm
from search.collection import selectors as collection_selectors
from search.core.permissions import MANAGE, membership_of
from search.teams import selectors as teams_selectors

ENTRIES_PER_PAGE = 50
# A plain link downloads the platform's CSV of PDQ and MD5.
EXPORT_DEFAULTS = {"format": HashListFormat.CSV.value, "signals": ["pdq", "md5"]}
EXPORT_SUFFIX = {HashListFormat.LOCAL_FILE: "txt", HashListFormat.CSV: "csv", HashListFormat.TE_DATASET: "csv"}


def _is_admin(request: HttpRequest, team_id: int) -> bool:
    membership = membership_of(user=request.user, team=team_id)
    return membership is not None and membership.at_least(MANAGE)


def _admin_only(request: HttpRequest, team_id: int) -> None:
    if not _is_admin(request, team_id):
        raise PermissionDenied("Only the team's admins can do this.")


@login_required
def bank_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, membership = teams_selectors.team_get(user=request.user, slug=team_slug)
    form = BankForm(request.POST or None)
    if request.method == "POST":
        _admin_only(request, team.id)
        if form.is_valid():
            try:
                bank = services.bank_create(actor=request.user, team=team, **form.cleaned_data)
            except IntegrityError:
                form.add_error("name", "The team has a bank by this name already.")
            else:
                return redirect("search:bank_detail", bank_id=bank.id)
    return render(
        request,
        "search/bank_list.html",
        {
            "team": team,
            "banks": selectors.bank_list(user=request.user, team=team),
            "form": form,
            "is_admin": membership.at_least(MANAGE),
        },
    )


def _detail(request: HttpRequest, bank, *, settings_form=None, import_form=None) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    entries = Paginator(selectors.bank_entry_list(user=request.user, bank=bank, search=search), ENTRIES_PER_PAGE)
    jobs = selectors.bank_import_list(user=request.user, bank=bank)
    return render(
        request,
        "search/bank_detail.html",
        {
            "bank": bank,
            "team": bank.team,
            "is_admin": _is_admin(request, bank.team_id),
            "entries": entries.get_page(request.GET.get("page")),
            "search": search,
            "signal_counts": selectors.bank_signal_counts(bank=bank),
            "jobs": jobs,
            "active": any(job.is_active for job in jobs),
            "settings_form": settings_form
            or BankForm(
                initial={
                    "name": bank.name,
                    "description": bank.description,
                    "pdq_threshold": bank.pdq_threshold,
                    "enabled": bank.enabled,
                }
            ),
            "import_form": import_form or BankImportForm(),
            "export_form": HashListExportForm(),
        },
    )


@login_required
def bank_detail(request: HttpRequest, bank_id: int) -> HttpResponse:
    return _detail(request, selectors.bank_get(user=request.user, bank_id=bank_id))


@login_required
@require_POST
def bank_settings(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    form = BankForm(request.POST)
    if not form.is_valid():
        return _detail(request, bank, settings_form=form)
    try:
        services.bank_update(actor=request.user, bank=bank, **form.cleaned_data)
    except IntegrityError:
        form.add_error("name", "The team has a bank by this name already.")
        return _detail(request, bank, settings_form=form)
    messages.success(request, "Bank settings saved; the next query uses them.")
    return redirect("search:bank_detail", bank_id=bank.id)


@login_required
@require_POST
def bank_delete(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    slug = bank.team.slug
    services.bank_delete(actor=request.user, bank=bank)
    messages.success(request, f"Bank {bank.name} deleted with its entries.")
    return redirect("search:bank_list", team_slug=slug)


@login_required
@require_POST
def bank_import(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    form = BankImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, bank, import_form=form)
    job = imports.bank_import_upload(
        actor=request.user,
        bank=bank,
        uploaded=form.cleaned_data["file"],
        format=form.cleaned_data["format"] or None,
        skip_bad_lines=form.cleaned_data["skip_bad_lines"],
        source_label=form.cleaned_data["source_label"],
    )
    messages.success(request, f"Import #{job.id} queued: every line is checked, then the good ones are added.")
    return redirect("search:bank_detail", bank_id=bank.id)


@login_required
def bank_imports_panel(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    jobs = selectors.bank_import_list(user=request.user, bank=bank)
    return render(
        request,
        "search/_bank_imports.html",
        {"bank": bank, "jobs": jobs, "active": any(job.is_active for job in jobs)},
    )


@login_required
def bank_import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.bank_import_get(user=request.user, job_id=job_id)
    errors = Paginator(job.errors.all(), 200).get_page(request.GET.get("page"))
    return render(request, "search/bank_import.html", {"job": job, "bank": job.bank, "errors": errors})


@login_required
@require_POST
def bank_entry_toggle(request: HttpRequest, bank_id: int, entry_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    disable = request.POST.get("disable") == "1"
    services.bank_entries_disable(actor=request.user, bank=bank, entry_ids=[entry_id], disabled=disable)
    return redirect("search:bank_detail", bank_id=bank.id)


def _hashlist_response(entries, *, form: HashListExportForm, collab: str, name: str) -> HttpResponse:
    format = HashListFormat(form.cleaned_data["format"])
    response = StreamingHttpResponse(
        exports.hashlist_export_lines(entries, format=format, collab=collab), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{slugify(name) or "hashes"}.{EXPORT_SUFFIX[format]}"'
    return response


@login_required
def bank_export(request: HttpRequest, bank_id: int) -> HttpResponse:
    bank = selectors.bank_get(user=request.user, bank_id=bank_id)
    form = HashListExportForm(request.GET or EXPORT_DEFAULTS)
    if not form.is_valid():
        return HttpResponse(f"Bad export request: {form.errors.as_text()}", status=400, content_type="text/plain")
    entries = exports.bank_export_entries(bank=bank, signal_types=form.cleaned_data["signals"])
    return _hashlist_response(entries, form=form, collab=bank.name, name=bank.name)


@login_required
def collection_hashes_export(request: HttpRequest, collection_id: int) -> HttpResponse:
    """The collection's references as PDQ and MD5 hashes, to share instead of the pictures. SSCD
    descriptors live in Milvus, which the site does not read: `manage.py hashlist_export` writes them."""
    collection = collection_selectors.collection_get(user=request.user, collection_id=collection_id)
    form = HashListExportForm(request.GET or EXPORT_DEFAULTS)
    if not form.is_valid():
        return HttpResponse(f"Bad export request: {form.errors.as_text()}", status=400, content_type="text/plain")
    if "sscd" in form.cleaned_data["signals"]:
        return HttpResponse(
            "SSCD descriptors of references are exported with `manage.py hashlist_export --collection ID "
            "--signals sscd` (they live in the vector index).",
            status=400,
            content_type="text/plain",
        )
    entries = exports.collection_export_entries(collection=collection, signal_types=form.cleaned_data["signals"])
    return _hashlist_response(entries, form=form, collab=collection.name, name=collection.name)
