from django.urls import path

from projects import batch_views, views

app_name = "projects"
urlpatterns = [
    path("projects/", views.project_list, name="list"),
    path("projects/<uuid:project_id>/", views.project_detail, name="detail"),
    path("projects/<uuid:project_id>/settings/", views.project_settings, name="settings"),
    path("projects/<uuid:project_id>/batches/", batch_views.batch_list, name="batches"),
    path("projects/<uuid:project_id>/batches/add-assets/", batch_views.batch_add_assets, name="batch_add_assets"),
    path("projects/<uuid:project_id>/batches/<uuid:batch_id>/", batch_views.batch_detail, name="batch_detail"),
    path("orgs/<uuid:organization_id>/projects/new/", views.project_create, name="create"),
    path("orgs/<uuid:organization_id>/members/", views.organization_members, name="members"),
    path("orgs/<uuid:organization_id>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("orgs/<uuid:organization_id>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("orgs/<uuid:organization_id>/invitations/<uuid:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
