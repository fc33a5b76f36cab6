"""Throttling of logins (django-axes) and of password-reset emails (the cache), and the client address both count by.

axes records each failed login with its username and address in the database, so every web process sees the same
counts. Its database handler compares every count with one limit; LoginThrottleHandler gives the address a limit
of its own, higher, since an office shares one (the maintainers' way: jazzband/django-axes#661). docs/SECURITY.md.
"""

import hashlib
import ipaddress
import logging
import math
import time
from datetime import datetime

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache
from django.db.models import Max, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

logger = logging.getLogger(__name__)


def client_ip_address(request: HttpRequest) -> str:
    """The address a request came from: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost of them saw (X-Forwarded-For read from the right, where a client cannot write)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not proxies or len(forwarded) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:  # not an address: the proxy is not the one configured
        return remote


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def _recent_attempts(request: HttpRequest, credentials: dict | None) -> tuple[QuerySet, QuerySet]:
    """Failures still counting (within the cool-off) for the request's username, and for its address."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=get_cool_off_threshold(request))
    username = get_client_username(request, credentials)
    return recent.filter(username=username), recent.filter(ip_address=request.axes_ip_address)


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with two limits: LOGIN_MAX_FAILURES per username, LOGIN_MAX_FAILURES_PER_IP per address."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        """The username's limit less the tries left before the nearer lock (the username's or the address's).

        axes locks once this reaches its one limit (AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES), which happens
        exactly when either count reaches its own limit.
        """
        by_username, by_address = _recent_attempts(request, credentials)
        limit = get_failure_limit(request, credentials)
        tries_left = min(limit - _failures(by_username), settings.LOGIN_MAX_FAILURES_PER_IP - _failures(by_address))
        return limit - tries_left


def login_lockout_ends(request: HttpRequest, credentials: dict | None = None) -> datetime:
    """When the lock on this request's username or address ends at the latest: the cool-off after its last counted failure."""
    by_username, by_address = _recent_attempts(request, credentials)
    last = AccessAttempt.objects.filter(Q(pk__in=by_username) | Q(pk__in=by_address)).aggregate(last=Max("attempt_time"))["last"]
    return (last or request.axes_attempt_time) + get_cool_off(request)


def lockout_response(request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """The login page (web or admin) saying logging in is paused and until when (429); the API keeps its own answer."""
    if original_response is not None and original_response.get("Content-Type", "").startswith("application/json"):
        return original_response
    username = get_client_username(request, credentials) or ""
    ends = login_lockout_ends(request, credentials)
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_until": ends,
        "locked_minutes": max(1, math.ceil((ends - timezone.now()).total_seconds() / 60)),
    }
    return render(request, "registration/login.html", context, status=429)


# --- password reset -------------------------------------------------------------------------------------------------


def _count_in_window(key: str, window: int) -> int:
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, count := 1, timeout=window)
    # The file cache's incr rewrites the entry with the default timeout: keep the window's.
    cache.touch(key, timeout=window)
    return count


def password_reset_allowed(*, email: str, ip_address: str) -> bool:
    """Counts a password-reset request against its email address and the address it came from; False once either
    went over its limit for the current PASSWORD_RESET_THROTTLE_SECONDS window (then no email may be sent)."""
    window = settings.PASSWORD_RESET_THROTTLE_SECONDS
    period = int(time.time() // window)
    who = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    per_address = _count_in_window(f"password-reset:email:{who}:{period}", window)
    per_ip = _count_in_window(f"password-reset:ip:{ip_address}:{period}", window)
    allowed = per_address <= settings.PASSWORD_RESET_EMAILS_PER_ADDRESS and per_ip <= settings.PASSWORD_RESET_REQUESTS_PER_IP
    if not allowed:
        logger.warning("Password reset throttled: %s requests for one email address, %s from %s.", per_address, per_ip, ip_address)
    return allowed


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form; a request over the limits sends nothing, and the page answers exactly as usual."""

    def save(self, *, request: HttpRequest, **kwargs) -> None:
        if password_reset_allowed(email=self.cleaned_data["email"], ip_address=client_ip_address(request)):
            super().save(request=request, **kwargs)
