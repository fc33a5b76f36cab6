from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.login_throttle import ThrottledPasswordResetForm
from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # Django's own reset view with a form that sends nothing over the limits (docs/SECURITY.md).
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(form_class=ThrottledPasswordResetForm),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("projects.urls")),
    path("", include("assets.urls")),
    path("", include("uploads.urls")),
    path("", include("assets.storage.urls")),
    path("api/v1/", include("api.urls")),
    path("profile/", include("accounts.urls")),
]
