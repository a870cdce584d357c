"""Hash banks: list, settings, entries, imports, exports."""

from django.urls import path

from search.banks import views

urlpatterns = [
    path("teams/<slug:team_slug>/banks/", views.bank_list, name="bank_list"),
    path("banks/<int:bank_id>/", views.bank_detail, name="bank_detail"),
    path("banks/<int:bank_id>/settings/", views.bank_settings, name="bank_settings"),
    path("banks/<int:bank_id>/delete/", views.bank_delete, name="bank_delete"),
    path("banks/<int:bank_id>/import/", views.bank_import, name="bank_import"),
    path("banks/<int:bank_id>/imports/", views.bank_imports_panel, name="bank_imports_panel"),
    path("banks/<int:bank_id>/entries/<int:entry_id>/toggle/", views.bank_entry_toggle, name="bank_entry_toggle"),
    path("banks/<int:bank_id>/export/", views.bank_export, name="bank_export"),
    path("bank-imports/<int:job_id>/", views.bank_import_detail, name="bank_import_detail"),
    path("collections/<int:collection_id>/hashes/", views.collection_hashes_export, name="collection_hashes_export"),
]
