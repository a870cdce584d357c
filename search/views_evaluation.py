"""The evaluation page: a collection and a DISC21 ground-truth file in, µAP, recall@P90, the PR curve,
the breakdown by edit family and difficulty, and the worst misses out. Nothing is stored."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from search import evaluation
from search.forms import EvaluationForm


@login_required
def evaluation_page(request: HttpRequest) -> HttpResponse:
    form = EvaluationForm(request.POST or None, request.FILES or None, user=request.user)
    result = curve = None
    if request.method == "POST" and form.is_valid():
        result = evaluation.collection_evaluate(
            collection=form.cleaned_data["collection"],
            ground_truth=form.cleaned_data["ground_truth"],
            edits=form.cleaned_data["edits"],
        )
        curve = evaluation.pr_curve_data_uri(evaluation=result)
    return render(request, "search/evaluation.html", {"form": form, "result": result, "curve": curve})
