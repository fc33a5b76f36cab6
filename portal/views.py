import logging

from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_storage() -> None:
    default_storage.exists("healthz/probe")


def _check_broker() -> None:
    with celery_app.connection_for_write() as broker:
        broker.ensure_connection(max_retries=1, timeout=3)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 only when the database, the object storage and the task broker all answer."""
    checks = {}
    for name, check in (("database", _check_database), ("storage", _check_storage), ("broker", _check_broker)):
        try:
            check()
            checks[name] = "ok"
        except Exception as error:  # any failure of a part is what this endpoint reports
            logger.warning("healthz: %s is not answering: %s", name, error)
            checks[name] = "unavailable"
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("projects:list" if request.user.is_authenticated else "login")
