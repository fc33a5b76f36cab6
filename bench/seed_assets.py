"""Many asset rows, fast, on PostgreSQL: set-based SQL (INSERT ... SELECT generate_series), not the ORM row by row.

    # 100,000 finished assets (67 complete sessions of 1,500) in one existing project of the DATABASE_URL database:
    .venv/bin/python bench/seed_assets.py project --project <uuid> --uploader <user id> [--assets 100000]
    # A database of its own, migrated, holding 10 million asset rows across 1,000 organizations (prints JSON):
    .venv/bin/python bench/seed_assets.py capacity --database load_capacity [--assets 10000000]
    .venv/bin/python bench/seed_assets.py drop --database load_capacity

The rows look like the portal's own: every asset belongs to an upload session of 1,500 files; sessions are spread over
the last 30 days; 98 % of files are Ready (images with a thumbnail key, videos also with a rendition key), 2 % Upload
Error with a reason; the newest sessions are still open with files Uploading and Uploaded, and a few videos are
Pre-Processing with an old heartbeat, so the sweepers have something to find. Keys follow assets.storage.keys
(assets/<organization>/<asset>/<16 hex>.jpg) and every sha256 is distinct. The capacity database puts one tenth of the
sessions in one large project (1 million assets at 10 million rows): the hot queries are read there (bench/hot_queries.py).

The capacity fill drops the asset table's secondary indexes, inserts with foreign-key triggers off
(session_replication_role = replica: the generated ids are consistent by construction), then builds the indexes again
from their saved definitions and runs VACUUM ANALYZE; 10 million rows take about 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FILES_PER_SESSION = 1500
# Seconds between two files of one session (registration order), and from registration to the last status change.
FILE_SPACING_SECONDS = 0.04
SETTLE_SECONDS = 20


def sessions_for(assets: int, per_session: int = FILES_PER_SESSION) -> list[int]:
    """How many files each session holds so that they add up to `assets`: full sessions, then what is left."""
    if assets < 0 or per_session < 1:
        raise ValueError("assets must be >= 0 and per_session >= 1")
    full, rest = divmod(assets, per_session)
    return [per_session] * full + ([rest] if rest else [])


def database_url(name: str, base: str | None = None) -> str:
    """The URL of database `name` on the server of `base` (default: DATABASE_URL, else the local server)."""
    parts = urlsplit(base or os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def _connect(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


# One row per session to create: (ordinal, project, organization, uploader, files, created_at, state).
_SESSIONS_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS seed_session (
    ordinal bigint, id uuid, project_id uuid, organization_id uuid, user_id integer, files integer,
    created_at timestamptz, state text, asset_type text, salt text
) ON COMMIT PRESERVE ROWS
"""

_INSERT_SESSIONS = """
INSERT INTO uploads_uploadsession (id, asset_type, source, view_name, capture_date, status, duplicate_count, created_at,
    finalized_at, completed_at, notified_at, created_by_id, project_id, drop_reservations, removed_files)
SELECT id, asset_type, 'direct', 'Seeded view ' || ordinal, created_at::date,
    CASE state WHEN 'open' THEN 'open' ELSE 'complete' END, 0, created_at,
    CASE state WHEN 'open' THEN NULL ELSE created_at + interval '10 minutes' END,
    CASE state WHEN 'open' THEN NULL ELSE created_at + interval '12 minutes' END,
    CASE state WHEN 'open' THEN NULL ELSE created_at + interval '12 minutes' END,
    user_id, project_id, '{}'::jsonb, '{}'::jsonb
FROM seed_session WHERE ordinal >= %(first)s AND ordinal < %(last)s
"""

# Files of the sessions [first, last): one row each, set-based. `h` is a per-file hash that picks a status.
_INSERT_ASSETS = f"""
INSERT INTO assets_asset (id, name, original_filename, asset_type, source, source_url, storage_key, upload_id, size,
    content_type, sha256, media_metadata, context_data, external_id, thumbnail_key, status, error_reason, created_at,
    updated_at, status_changed_at, organization_id, project_id, upload_session_id, uploaded_by_id, processing_attempts,
    processing_heartbeat_at, processing_token, rendition_key, retired_keys)
SELECT a.id, a.name, a.name, a.asset_type, 'file', '', a.key, '', a.size, a.content_type, a.sha256,
    CASE WHEN a.status = 'ready' THEN '{{"width": 1920, "height": 1080, "format": "JPEG"}}'::jsonb ELSE '{{}}'::jsonb END,
    '{{}}'::jsonb, '',
    CASE WHEN a.status = 'ready' THEN a.key || '.thumb.jpg' ELSE '' END,
    a.status,
    CASE WHEN a.status = 'upload_error' THEN 'The file is not an image the portal can read. Retry to upload it again.' ELSE '' END,
    a.created_at,
    a.created_at + CASE WHEN a.status = 'uploading' THEN interval '0' ELSE interval '{SETTLE_SECONDS} seconds' END,
    a.created_at + CASE WHEN a.status = 'uploading' THEN interval '0' ELSE interval '{SETTLE_SECONDS} seconds' END,
    a.organization_id, a.project_id, a.session_id, a.user_id, CASE WHEN a.status = 'preprocessing' THEN 1 ELSE 0 END,
    CASE WHEN a.status = 'preprocessing' THEN a.created_at + interval '1 minute' END,
    CASE WHEN a.status = 'preprocessing' THEN md5(a.sha256) ELSE '' END,
    CASE WHEN a.status = 'ready' AND a.asset_type = 'video' THEN a.key || '.rendition.mp4' ELSE '' END,
    '[]'::jsonb
FROM (
    SELECT f.id, s.organization_id, s.project_id, s.id AS session_id, s.user_id, s.asset_type,
        CASE WHEN s.asset_type = 'video' THEN 'clip-' ELSE 'img-' END || s.ordinal || '-' || lpad(f.n::text, 4, '0')
            || CASE WHEN s.asset_type = 'video' THEN '.mp4' ELSE '.jpg' END AS name,
        'assets/' || s.organization_id || '/' || f.id || '/' || substr(md5(f.id::text), 1, 16)
            || CASE WHEN s.asset_type = 'video' THEN '.mp4' ELSE '.jpg' END AS key,
        CASE WHEN s.asset_type = 'video' THEN 'video/mp4' ELSE 'image/jpeg' END AS content_type,
        CASE WHEN s.asset_type = 'video' THEN 40000000 ELSE 150000 END + (f.h %% 100000) AS size,
        encode(sha256(convert_to(s.salt || '/' || s.ordinal || '/' || f.n, 'UTF8')), 'hex') AS sha256,
        s.created_at + f.n * interval '{FILE_SPACING_SECONDS} seconds' AS created_at,
        CASE
            WHEN s.state = 'open' THEN (ARRAY['uploading', 'uploaded', 'ready', 'ready'])[1 + f.h %% 4]
            WHEN s.state = 'stalled' AND f.n < 3 THEN 'preprocessing'
            WHEN f.h %% 50 = 0 THEN 'upload_error'
            ELSE 'ready'
        END AS status
    FROM seed_session s
    CROSS JOIN LATERAL (
        SELECT gen_random_uuid() AS id, n, abs(hashtextextended(s.salt || s.ordinal || '/' || n, 0)) AS h
        FROM generate_series(0, s.files - 1) AS n
    ) f
    WHERE s.ordinal >= %(first)s AND s.ordinal < %(last)s
) a
"""


def _fill(cursor, *, first: int, last: int, chunk_sessions: int, progress=None) -> None:
    for start in range(first, last, chunk_sessions):
        end = min(start + chunk_sessions, last)
        cursor.execute(_INSERT_SESSIONS, {"first": start, "last": end})
        cursor.execute(_INSERT_ASSETS, {"first": start, "last": end})
        if progress:
            progress(end - first)


def seed_project(url: str, *, project_id: str, uploader_id: int, assets: int = 100_000, days: int = 30,
                 asset_type: str = "image") -> dict:
    """Adds `assets` finished files to an existing project, in complete sessions of 1,500 uploaded by `uploader_id`,
    created over the last `days` days. Returns what it made."""
    started = time.monotonic()
    sizes = sessions_for(assets)
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT organization_id FROM projects_project WHERE id = %s", [project_id])
        row = cursor.fetchone()
        if row is None:
            raise SystemExit(f"No project {project_id}")
        cursor.execute(_SESSIONS_TABLE)
        cursor.execute("TRUNCATE seed_session")
        cursor.execute(
            """INSERT INTO seed_session
               SELECT n, gen_random_uuid(), %(project)s, %(organization)s, %(user)s, (%(sizes)s::int[])[n + 1],
                   now() - make_interval(days => %(days)s) + n * (make_interval(days => %(days)s) / %(count)s),
                   'complete', %(type)s, md5(random()::text)
               FROM generate_series(0, %(count)s - 1) AS n""",
            {"project": project_id, "organization": row[0], "user": uploader_id, "sizes": sizes, "days": days,
             "count": len(sizes), "type": asset_type},
        )
        with connection.transaction():
            _fill(cursor, first=0, last=len(sizes), chunk_sessions=20)
        cursor.execute("ANALYZE assets_asset")
        cursor.execute("ANALYZE uploads_uploadsession")
    return {"project": project_id, "assets": assets, "sessions": len(sizes), "seconds": round(time.monotonic() - started, 1)}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_capacity(url: str, *, assets: int, organizations: int = 1000, projects_per_organization: int = 4,
                  large_share: int = 10, open_sessions: int = 20, stalled_sessions: int = 5) -> dict:
    """Fills a migrated, empty database: `organizations` organizations (an admin each, plus a manager and an uploader in
    the first), `projects_per_organization` projects each, and `assets` files in sessions of 1,500; every
    `large_share`-th session goes to the first organization's first project (the large one)."""
    started = time.monotonic()
    sizes = sessions_for(assets)
    projects = organizations * projects_per_organization
    with _connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM assets_asset")
        if cursor.fetchone()[0]:
            raise SystemExit("The database already holds assets: drop it first.")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute(
            """INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                   is_active, date_joined)
               SELECT '!', false, 'seed-' || n, 'Seed', 'User ' || n, 'seed-' || n || '@example.com', false, true,
                   now() - interval '60 days'
               FROM generate_series(0, %(count)s - 1) AS n""",
            {"count": organizations + 2},
        )
        cursor.execute(
            """INSERT INTO projects_organization (id, name, created_at)
               SELECT gen_random_uuid(), 'Seeded organization ' || n, now() - interval '60 days'
               FROM generate_series(0, %(count)s - 1) AS n""",
            {"count": organizations},
        )
        # Organization n: user seed-n is its admin; the first organization also has a manager and an uploader.
        cursor.execute(
            """CREATE TEMP TABLE seed_org AS
               SELECT o.id, (row_number() OVER (ORDER BY o.name COLLATE "C")) - 1 AS n FROM projects_organization o"""
        )
        cursor.execute(
            """INSERT INTO projects_membership (role, created_at, user_id, organization_id)
               SELECT 'admin', now(), u.id, o.id FROM seed_org o JOIN auth_user u ON u.username = 'seed-' || o.n
               UNION ALL
               SELECT role, now(), u.id, o.id FROM seed_org o
                   JOIN (VALUES ('manager', 'seed-' || %(count)s), ('uploader', 'seed-' || (%(count)s + 1))) AS r(role, name) ON true
                   JOIN auth_user u ON u.username = r.name
               WHERE o.n = 0""",
            {"count": organizations},
        )
        cursor.execute(
            """INSERT INTO projects_project (id, name, description, allow_images, allow_videos, image_formats,
                   require_camera_metadata, created_at, updated_at, created_by_id, organization_id)
               SELECT gen_random_uuid(), 'Seeded project ' || p, '', true, true, '[]'::jsonb, false,
                   now() - interval '60 days', now(), u.id, o.id
               FROM seed_org o JOIN auth_user u ON u.username = 'seed-' || o.n
               CROSS JOIN generate_series(0, %(per)s - 1) AS p""",
            {"per": projects_per_organization},
        )
        cursor.execute(
            """CREATE TEMP TABLE seed_project AS
               SELECT p.id, p.organization_id, (row_number() OVER (ORDER BY o.n, p.name COLLATE "C")) - 1 AS n,
                   (SELECT u.id FROM auth_user u WHERE u.username = 'seed-' || o.n) AS admin_id
               FROM projects_project p JOIN seed_org o ON o.id = p.organization_id"""
        )
        cursor.execute(_SESSIONS_TABLE)
        # Session k: the large project when k % large_share == 0, else one of the others in turn; the newest
        # `open_sessions` are still open, `stalled_sessions` before them are videos whose processing stalled.
        count = len(sizes)
        cursor.execute(
            """INSERT INTO seed_session
               SELECT k, gen_random_uuid(), p.id, p.organization_id,
                   CASE WHEN p.n = 0 THEN (SELECT id FROM auth_user WHERE username = 'seed-' || (%(orgs)s + 1)) ELSE p.admin_id END,
                   (%(sizes)s::int[])[k + 1],
                   now() - interval '30 days' + k * (interval '30 days' / %(count)s),
                   CASE WHEN k >= %(count)s - %(open)s THEN 'open'
                        WHEN k >= %(count)s - %(open)s - %(stalled)s THEN 'stalled' ELSE 'complete' END,
                   CASE WHEN k >= %(count)s - %(open)s - %(stalled)s AND k < %(count)s - %(open)s THEN 'video'
                        WHEN k %% 10 = 7 THEN 'video' ELSE 'image' END,
                   'capacity'
               FROM generate_series(0, %(count)s - 1) AS k
               JOIN seed_project p ON p.n = CASE WHEN k %% %(large)s = 0 THEN 0 ELSE 1 + (k %% (%(projects)s - 1)) END""",
            {"sizes": sizes, "count": count, "open": open_sessions, "stalled": stalled_sessions, "large": large_share,
             "projects": projects, "orgs": organizations},
        )
        cursor.execute(
            """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'assets_asset'
               AND indexname <> 'assets_asset_pkey'"""
        )
        indexes = cursor.fetchall()
        _log(f"seed: {count} sessions planned; dropping {len(indexes)} secondary indexes of assets_asset")
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET session_replication_role = replica")
        chunk = 100  # 150,000 rows per statement
        filled = time.monotonic()
        _fill(cursor, first=0, last=count, chunk_sessions=chunk,
              progress=lambda done: _log(f"seed: {done}/{count} sessions ({time.monotonic() - filled:.0f} s)")
              if done % (chunk * 10) == 0 or done == count else None)
        cursor.execute("SET session_replication_role = DEFAULT")
        inserted = time.monotonic()
        for name, definition in indexes:
            cursor.execute(definition)
            _log(f"seed: index {name} built ({time.monotonic() - inserted:.0f} s)")
        indexed = time.monotonic()
        cursor.execute("VACUUM ANALYZE assets_asset")
        cursor.execute("ANALYZE")  # the other tables too (users, organizations, projects, sessions)
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('assets_asset')), pg_size_pretty(pg_relation_size('assets_asset'))")
        total_size, table_size = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM assets_asset")
        rows = cursor.fetchone()[0]
    return {
        "assets": rows, "sessions": count, "organizations": organizations, "projects": projects,
        "large_project_assets": sum(sizes[::large_share]),
        "seconds": {"insert": round(inserted - filled, 1), "indexes": round(indexed - inserted, 1),
                    "vacuum_analyze": round(time.monotonic() - indexed, 1), "total": round(time.monotonic() - started, 1)},
        "size": {"table_and_indexes": total_size, "table": table_size},
    }


def create_database(name: str) -> str:
    url = database_url(name)
    with _connect(database_url("postgres")) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL"}}
    env |= {"DATABASE_URL": url, "PORTAL_VAR_DIR": f"/tmp/seed-{name}", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=600, stdin=subprocess.DEVNULL)
    return url


def drop_database(name: str) -> None:
    with _connect(database_url("postgres")) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    project = commands.add_parser("project", help="finished assets in one existing project (DATABASE_URL)")
    project.add_argument("--project", required=True)
    project.add_argument("--uploader", type=int, required=True, help="auth_user id the sessions belong to")
    project.add_argument("--assets", type=int, default=100_000)
    capacity = commands.add_parser("capacity", help="a new database of its own filled with --assets rows")
    capacity.add_argument("--database", required=True)
    capacity.add_argument("--assets", type=int, default=10_000_000)
    capacity.add_argument("--organizations", type=int, default=1000)
    drop = commands.add_parser("drop", help="drop a database made by `capacity`")
    drop.add_argument("--database", required=True)
    options = parser.parse_args()
    if options.command == "project":
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise SystemExit("Set DATABASE_URL to the portal's PostgreSQL database.")
        print(json.dumps(seed_project(url, project_id=options.project, uploader_id=options.uploader, assets=options.assets)))
    elif options.command == "capacity":
        url = create_database(options.database)
        print(json.dumps(seed_capacity(url, assets=options.assets, organizations=options.organizations), indent=2))
    else:
        drop_database(options.database)


if __name__ == "__main__":
    main()
