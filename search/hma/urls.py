"""The HMA-compatible API, mounted at /hma/<team slug>/ (HMA's own paths below that)."""

from django.urls import path, re_path

from search.hma import views

app_name = "hma"
urlpatterns = [
    path("<slug:team_slug>/h/hash", views.HashView.as_view(), name="hash"),
    path("<slug:team_slug>/m/raw_lookup", views.RawLookupView.as_view(), name="raw_lookup"),
    path("<slug:team_slug>/m/lookup", views.LookupView.as_view(), name="lookup"),
    path("<slug:team_slug>/c/banks", views.BankListView.as_view(), name="banks"),
    path("<slug:team_slug>/c/bank/<str:bank_name>", views.BankDetailView.as_view(), name="bank"),
    path("<slug:team_slug>/c/bank/<str:bank_name>/signal", views.BankSignalView.as_view(), name="bank_signal"),
    re_path(r"^", views.HmaNotFoundView.as_view(), name="not_found"),
]
