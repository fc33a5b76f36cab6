from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("projects.urls")),
    path("", include("assets.urls")),
    path("", include("uploads.urls")),
    path("", include("assets.storage_urls")),
    path("api/v1/", include("portal.api.urls")),
    path("profile/", include("portal.account_urls")),
]
