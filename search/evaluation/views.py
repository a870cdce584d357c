"""The evaluation page: a collection and a DISC21 ground-truth file in, µAP, recall@P90, the PR curve,
the breakdown by edit and the worst misses out."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from search.evaluation import charts, selectors
from search.evaluation.forms import EvaluationForm


@login_required
def evaluation_page(request: HttpRequest) -> HttpResponse:
    form = EvaluationForm(request.POST or None, request.FILES or None, user=request.user)
    result = curve = None
    if request.method == "POST" and form.is_valid():
        result = selectors.collection_evaluate(
            collection=form.cleaned_data["collection"],
            ground_truth=form.cleaned_data["ground_truth"],
            edits=form.cleaned_data["edits"],
        )
        curve = charts.pr_curve_data_uri(evaluation=result)
    return render(request, "search/evaluation.html", {"form": form, "result": result, "curve": curve})
