from django.urls import path

from projects import views

app_name = "projects"
urlpatterns = [
    path("projects/", views.project_list, name="list"),
    path("projects/<uuid:project_id>/", views.project_detail, name="detail"),
    path("projects/<uuid:project_id>/settings/", views.project_settings, name="settings"),
    path("orgs/<uuid:organization_id>/projects/new/", views.project_create, name="create"),
    path("orgs/<uuid:organization_id>/members/", views.organization_members, name="members"),
    path("orgs/<uuid:organization_id>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("orgs/<uuid:organization_id>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("orgs/<uuid:organization_id>/invitations/<uuid:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
