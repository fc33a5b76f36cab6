from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.profile, name="profile"),
    path("notifications/", views.notifications_update, name="notifications_update"),
    path("api-keys/", views.api_key_create, name="api_key_create"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
