from django.urls import path

from portal import account

urlpatterns = [
    path("", account.profile, name="profile"),
    path("notifications/", account.notifications_update, name="notifications_update"),
    path("api-keys/", account.api_key_create, name="api_key_create"),
    path("api-keys/<int:key_id>/revoke/", account.api_key_revoke, name="api_key_revoke"),
]
