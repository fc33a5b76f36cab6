from django.urls import path

from uploads import import_views, views

app_name = "uploads"
session = "projects/<uuid:project_id>/uploads/<uuid:session_id>/"
# A library session (no project) has the same pages and protocol under its organization's library.
library = "library/<uuid:organization_id>/uploads/<uuid:session_id>/"
urlpatterns = [
    path("library/uploads/new/", views.library_session_new, name="library_new"),
    path(library, views.session_detail, name="library_detail"),
    path(library + "changes/", views.session_changes, name="library_changes"),
    path(library + "files/", views.register_files, name="library_register"),
    path(library + "sign/", views.sign_request, name="library_sign"),
    path(library + "complete/", views.complete_files, name="library_complete"),
    path(library + "fail/", views.fail_files, name="library_fail"),
    path(library + "retry/", views.retry_files, name="library_retry"),
    path(library + "cancel/", views.cancel_files, name="library_cancel"),
    path(library + "finalize/", views.finalize, name="library_finalize"),
    path(library + "report.csv", views.session_report, name="library_report"),
    path("uploads/unfinished/", views.unfinished_sessions, name="unfinished"),
    path("projects/<uuid:project_id>/uploads/", views.session_list, name="list"),
    path("projects/<uuid:project_id>/uploads/new/", views.session_new, name="new"),
    path(session, views.session_detail, name="detail"),
    path(session + "changes/", views.session_changes, name="changes"),
    path(session + "report.csv", views.session_report, name="report"),
    path(session + "files/", views.register_files, name="register"),
    path(session + "sign/", views.sign_request, name="sign"),
    path(session + "complete/", views.complete_files, name="complete"),
    path(session + "fail/", views.fail_files, name="fail"),
    path(session + "retry/", views.retry_files, name="retry"),
    path(session + "cancel/", views.cancel_files, name="cancel"),
    path(session + "finalize/", views.finalize, name="finalize"),
    path(session + "imports/", import_views.import_preview, name="import_preview"),
    path(session + "imports/retry/", import_views.import_retry, name="import_retry"),
    path(session + "imports/<uuid:import_id>/", import_views.import_detail, name="import_detail"),
    path(session + "imports/<uuid:import_id>/start/", import_views.import_start, name="import_start"),
    path("orgs/<uuid:organization_id>/storage/", import_views.integration_list, name="integrations"),
    path("orgs/<uuid:organization_id>/storage/<uuid:integration_id>/validate/", import_views.integration_validate, name="integration_validate"),
    path("orgs/<uuid:organization_id>/storage/<uuid:integration_id>/delete/", import_views.integration_delete, name="integration_delete"),
    path("storage/references/<str:token>/", import_views.reference_original, name="reference_original"),
]
