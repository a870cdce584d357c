"""A bank's hash exchange (shown on the bank page)."""

from django.urls import path

from search.exchanges import views

urlpatterns = [
    path("banks/<int:bank_id>/exchange/", views.bank_exchange_configure, name="bank_exchange_configure"),
    path("banks/<int:bank_id>/exchange/fetch/", views.bank_exchange_fetch, name="bank_exchange_fetch"),
]
