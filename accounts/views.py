"""The profile page: who you are, your organizations, and the API keys your scripts use."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import services
from accounts.models import ApiKey
from projects.models import Membership, Profile, role_can_manage


class NotificationsForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["email_own_sessions", "email_managed_sessions"]


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, label="Key name", help_text="Where the key is used, e.g. “nightly import on build-01”."
    )


def _profile_context(request: HttpRequest, **extra) -> dict:
    memberships = list(
        Membership.objects.for_user(request.user).select_related("organization").order_by("organization__name")
    )
    return {
        "memberships": memberships,
        "notifications_form": NotificationsForm(instance=Profile.for_user(request.user)),
        "manages_projects": any(role_can_manage(m.role) for m in memberships),
        "api_keys": ApiKey.objects.filter(user=request.user),
        "api_base_url": request.build_absolute_uri("/api/v1/").rstrip("/"),
        "api_docs_url": reverse("api_docs"),
        "key_form": ApiKeyForm(),
        "tab": "profile",
        **extra,
    }


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html", _profile_context(request))


@login_required
@require_POST
def api_key_create(request: HttpRequest) -> HttpResponse:
    """Creates a key and shows its secret once, in this response only (it is not stored)."""
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render(request, "accounts/profile.html", _profile_context(request, key_form=form), status=422)
    key, secret = services.api_key_create(user=request.user, name=form.cleaned_data["name"])
    response = render(request, "accounts/profile.html", _profile_context(request, new_key=key, new_secret=secret))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id, user=request.user)
    if services.api_key_revoke(key=key):
        messages.success(request, f"API key “{key.name}” revoked: scripts using it get 403 from now on.")
    else:
        messages.info(request, f"API key “{key.name}” was already revoked.")
    return redirect("profile")


@login_required
@require_POST
def notifications_update(request: HttpRequest) -> HttpResponse:
    """Which upload-session emails the person gets (their own sessions; every session of projects they manage)."""
    form = NotificationsForm(request.POST, instance=Profile.for_user(request.user))
    if form.is_valid():
        form.save()
        messages.success(request, "Email preferences saved.")
    return redirect("profile")
