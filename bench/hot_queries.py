"""EXPLAIN (ANALYZE, BUFFERS) of the portal's hot queries on a large PostgreSQL database; prints JSON.

    .venv/bin/python bench/seed_assets.py capacity --database load_capacity     # 10 million asset rows, once
    .venv/bin/python bench/hot_queries.py --database load_capacity [--plans plans.txt]

The queries are not written out here: the script runs the portal's own code on the database and logs the SQL it
sends (Django's CaptureQueriesContext), then explains every SELECT and UPDATE that touches the asset or session
tables, inside a transaction that is rolled back. What it runs, as the people of the seeded large project
(bench/seed_assets.py: its first organization's first project, one tenth of the rows):

* session poll      uploads.views.session_changes on the newest open session (since 5 s ago, the page sending files)
* register          uploads.views.register_files: a drop of 100 files, 10 already in the project (duplicates)
                    (assets.selectors.assets_with_content, the session's count and lock, quotas)
* Assets tab        assets.views.asset_list: page 1, a status filter, the last page, a name search
* Uploads tab       uploads.views.session_list as the project's manager (sessions with their file counts)
* sweepers          uploads.cleanup.uploads_clean_up (abandoned files, a multipart upload to check, 500 stored objects
                    of which half are referenced: the orphan sweep) and assets.services.assets_recover_stalled

Storage is never contacted: signing is local (S3 settings without a server) and the sweepers' listing, inspection and
deletion are replaced by stand-ins for the run. Each plan says whether it scans a large table sequentially.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

LARGE_TABLES = ("assets_asset", "uploads_uploadsession")


def _configure(database: str) -> None:
    import seed_assets

    os.environ.pop("REDIS_URL", None)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": seed_assets.database_url(database),
        "PORTAL_VAR_DIR": f"/tmp/hot-queries-{database}",
        # S3 mode without a server: URLs are signed locally and no request reaches storage.
        "AWS_STORAGE_BUCKET_NAME": "bench", "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
        # The seeded day already holds more files than the daily quotas allow: raised, so the drop is taken (and the
        # quota queries still run).
        "UPLOAD_QUOTA_FILES_PER_USER_PER_DAY": "100000000", "UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY": "100000000",
    })
    import django

    django.setup()


def _capture(run) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries]


def _explain(sql: str) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT explain_one")
        try:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("ROLLBACK TO SAVEPOINT explain_one")
    time_ms = re.search(r"Execution Time: ([\d.]+) ms", plan)
    # The first Buffers line belongs to the top node: what the whole statement touched (8 kB pages).
    top = next((line for line in plan.splitlines() if "Buffers:" in line), "")
    hits = re.search(r"shared hit=(\d+)", top)
    reads = re.search(r"shared(?: hit=\d+)? read=(\d+)", top)
    return {
        "execution_ms": float(time_ms.group(1)) if time_ms else None,
        "sequential_scans": sorted(set(re.findall(r"Seq Scan on (\w+)", plan))),
        "indexes": sorted(set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)", plan))),
        "buffers": {"shared_hit": int(hits.group(1)) if hits else 0, "shared_read": int(reads.group(1)) if reads else 0},
        "plan": plan,
    }


def _interesting(sql: str) -> bool:
    head = sql.lstrip().split(None, 1)[0].upper()
    return head in {"SELECT", "UPDATE", "DELETE"} and any(table in sql for table in LARGE_TABLES)


def scenarios(capacity: dict):
    """(name, callable) pairs running the portal's code; each returns nothing, its SQL is captured."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from assets import services as asset_services
    from assets import storage
    from assets.models import Asset
    from projects.models import Project
    from uploads import cleanup
    from uploads.models import UploadSession

    users = get_user_model().objects
    project = Project.objects.get(pk=capacity["project_id"])
    uploader = users.get(pk=capacity["uploader_id"])
    manager = users.get(pk=capacity["manager_id"])
    as_uploader = Client(HTTP_HOST="127.0.0.1")
    as_uploader.force_login(uploader)
    as_manager = Client(HTTP_HOST="127.0.0.1")
    as_manager.force_login(manager)
    newest_open = UploadSession.objects.filter(project=project, status=UploadSession.Status.OPEN).latest("created_at")
    base = newest_open.get_absolute_url()

    def ok(answer):
        assert answer.status_code in (200, 286), (answer.status_code, answer.content[:300])

    def poll():
        since = (timezone.now() - datetime.timedelta(seconds=5)).isoformat()
        ok(as_uploader.get(base + "changes/", {"since": since, "sending": "1"}, HTTP_HX_REQUEST="true"))

    def register():
        session = UploadSession.objects.create(
            project=project, created_by=uploader, asset_type=UploadSession.AssetType.IMAGE,
            source=UploadSession.Source.DIRECT, view_name="hot queries", capture_date=datetime.date(2026, 12, 1),
        )
        earlier = list(Asset.objects.filter(project=project, status=Asset.Status.READY).values_list("sha256", flat=True)[:10])
        shas = earlier + [hashlib.sha256(f"hot-queries/{n}/{time.time()}".encode()).hexdigest() for n in range(90)]
        files = [{"clientId": str(n), "name": f"new-{n:03d}.jpg", "size": 200_000, "contentType": "image/jpeg", "sha256": sha}
                 for n, sha in enumerate(shas)]
        answer = as_uploader.post(session.get_absolute_url() + "files/", json.dumps({"drop": {"id": "d1", "size": 100}, "files": files}),
                                  content_type="application/json")
        ok(answer)
        assert answer.json()["duplicates"] == 10, answer.json()["duplicates"]

    def assets_tab(**query):
        return lambda: ok(as_manager.get(f"/projects/{project.pk}/assets/", query))

    def uploads_tab():
        ok(as_manager.get(f"/projects/{project.pk}/uploads/"))

    old = timezone.now() - datetime.timedelta(days=20)
    referenced = list(Asset.objects.filter(project=project).values_list("storage_key", "thumbnail_key")[:125])
    stored = [(key, old) for pair in referenced for key in pair if key] + [
        (f"assets/{project.organization_id}/{n:032x}/orphan.jpg", old) for n in range(250)
    ]
    upload = storage.OpenUpload(key=referenced[0][0], upload_id="stand-in", started=old)

    def sweepers():
        with ExitStack() as stubs:
            stubs.enter_context(mock.patch.object(storage, "open_uploads", lambda: iter([upload])))
            stubs.enter_context(mock.patch.object(storage, "last_activity", lambda upload: old))
            stubs.enter_context(mock.patch.object(storage, "abort_open_upload", lambda upload: True))
            stubs.enter_context(mock.patch.object(storage, "stored_objects", lambda: iter(stored)))
            stubs.enter_context(mock.patch.object(storage, "delete", lambda key: None))
            stubs.enter_context(mock.patch.object(storage, "inspect", lambda key, length=8192: None))
            cleanup.uploads_clean_up()
            asset_services.assets_recover_stalled()

    return [
        ("session poll (uploads.views.session_changes)", poll),
        ("register a drop of 100 (uploads.views.register_files)", register),
        ("Assets tab, page 1 (assets.views.asset_list)", assets_tab()),
        ("Assets tab, status Upload Error", assets_tab(status="upload_error")),
        ("Assets tab, last page", assets_tab(page=str(-(-capacity["project_assets"] // settings.ASSETS_PAGE_SIZE)))),
        ("Assets tab, name search", assets_tab(q="img-6000-01")),
        ("Uploads tab (uploads.views.session_list)", uploads_tab),
        ("sweepers (uploads.cleanup.uploads_clean_up, assets.services.assets_recover_stalled)", sweepers),
    ]


def large_project(database_url: str) -> dict:
    """The seeded large project, its uploader and manager (bench/seed_assets.py's first organization)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as db:
        project_id, organization_id = db.execute(
            """SELECT p.id, p.organization_id FROM projects_project p
               ORDER BY (SELECT count(*) FROM uploads_uploadsession s WHERE s.project_id = p.id) DESC LIMIT 1"""
        ).fetchone()
        roles = dict(db.execute(
            "SELECT role, user_id FROM projects_membership WHERE organization_id = %s AND role IN ('manager', 'uploader')",
            [organization_id]).fetchall())
        assets = db.execute("SELECT count(*) FROM assets_asset WHERE project_id = %s", [project_id]).fetchone()[0]
        rows = db.execute("SELECT count(*) FROM assets_asset").fetchone()[0]
        sessions = db.execute("SELECT count(*) FROM uploads_uploadsession").fetchone()[0]
    return {"project_id": str(project_id), "uploader_id": roles["uploader"], "manager_id": roles["manager"],
            "project_assets": assets, "asset_rows": rows, "session_rows": sessions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="a database filled by bench/seed_assets.py capacity")
    parser.add_argument("--plans", help="also write every plan, as text, to this file")
    parser.add_argument("--only", help="run only the scenarios whose name contains one of these (comma-separated)")
    options = parser.parse_args()
    _configure(options.database)
    from django.db import connection, transaction

    import seed_assets

    capacity = large_project(seed_assets.database_url(options.database))
    results = []
    with transaction.atomic():
        for name, run in scenarios(capacity):
            if options.only and not any(part.strip() in name for part in options.only.split(",")):
                continue
            sql = _capture(run)
            explained = []
            seen = set()
            for statement in sql:
                shape = re.sub(r"'[^']*'|\b\d+\b", "?", statement)
                if not _interesting(statement) or shape in seen:
                    continue
                seen.add(shape)
                explained.append({"sql": statement} | _explain(statement))
            results.append({"scenario": name, "queries": len(sql), "explained": explained})
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        version = cursor.fetchone()[0]
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    if options.plans:
        with open(options.plans, "w") as out:
            for result in results:
                for entry in result["explained"]:
                    out.write(f"-- {result['scenario']}\n{entry['sql']}\n{entry['plan']}\n\n")
    print(json.dumps({
        "benchmark": "hot_queries",
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "code": {"commit": commit},
        "database": {"name": options.database, "server": version} | capacity,
        "scenarios": [
            {"scenario": r["scenario"], "queries": r["queries"], "explained": [
                {key: value for key, value in e.items() if key != "plan"} for e in r["explained"]]}
            for r in results
        ],
        "sequential_scans_of_large_tables": sorted({
            f"{r['scenario']}: {table}" for r in results for e in r["explained"] for table in e["sequential_scans"]
            if table in LARGE_TABLES
        }),
    }, indent=2))


if __name__ == "__main__":
    main()
