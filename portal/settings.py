"""Settings of the Asset Upload Portal, read from the environment.

With nothing set, the portal runs on embedded defaults (SQLite, local storage, a broker on the
file system and emails written to files, all under var/). DATABASE_URL, REDIS_URL, the AWS_*
variables and EMAIL_URL/EMAIL_HOST switch it to PostgreSQL, Redis, S3 and SMTP. With
PORTAL_ENV=production the embedded defaults are refused. `.env.example` lists every variable.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from portal.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_required,
    env_str,
    parse_email_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR") or BASE_DIR / "var")

PORTAL_ENV = env_choice("PORTAL_ENV", ("development", "production"), "development")
PRODUCTION = PORTAL_ENV == "production"
_IN_PRODUCTION = "required when PORTAL_ENV=production"

DEBUG = env_bool("DEBUG", False)


def _keep_private(path: Path) -> None:
    # Secrets and the SQLite database are for the portal's own user only (docs/SECURITY.md): an older file is tightened.
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _development_secret_key() -> str:
    # One random key per checkout, kept under var/ so sessions survive a restart; created readable by its owner only.
    path = VAR_DIR / "secret_key"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(secrets.token_urlsafe(50))
    except FileExistsError:
        _keep_private(path)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env_required("SECRET_KEY", f"{_IN_PRODUCTION} (50+ random characters)")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", []) or [
        env_required("ALLOWED_HOSTS", f"{_IN_PRODUCTION} (comma-separated host names)")
    ]
else:
    SECRET_KEY = env_str("SECRET_KEY") or _development_secret_key()
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The address people reach the portal at, used for links in emails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "portal",
    "projects",
    "assets",
    "uploads",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: static files carry no policy, and the hash worker (held to its own response's) may use WebAssembly.
    "portal.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # A refusal a view let through becomes its answer (docs/ARCHITECTURE.md, "Refusals").
    "portal.middleware.RefusalMiddleware",
    # Last, as django-axes asks: it turns a login it refused into the lock-out page (docs/SECURITY.md).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if PRODUCTION and not DATABASE_URL:
    env_required("DATABASE_URL", f"{_IN_PRODUCTION} (postgres://user:password@host:5432/name)")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    # Created here, 0600, before SQLite would create it with the umask's mode (its -wal and -shm files copy the mode).
    _SQLITE_FILE = VAR_DIR / "db.sqlite3"
    _SQLITE_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _SQLITE_FILE.touch(mode=0o600, exist_ok=True)
    _keep_private(_SQLITE_FILE)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _SQLITE_FILE,
            # Kept open across requests like PostgreSQL's: opening one (Django's functions, the PRAGMAs) costs
            # about 0.85 ms of CPU, more than a simple query.
            "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60),
            # Web and worker processes write at once: WAL, and writers queue instead of failing.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not shared-cache memory: the browser tests' server threads write at once.
            "TEST": {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    env_required("REDIS_URL", f"{_IN_PRODUCTION} (redis://host:6379/0)")
if REDIS_URL:
    # CACHE_KEY_PREFIX keeps apart portals that share one Redis database (two stacks, staging beside production).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX"),
        }
    }
    # Every request reads the login session: from Redis, with the database behind it (sessions survive a flush).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

# --- object storage -------------------------------------------------------------------------
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
# Lifetime of the URLs that show stored files (thumbnails, posters, renditions, downloads).
DOWNLOAD_URL_EXPIRY_SECONDS = env_int("DOWNLOAD_URL_EXPIRY_SECONDS", 900, minimum=60)
if PRODUCTION and not AWS_STORAGE_BUCKET_NAME:
    env_required("AWS_STORAGE_BUCKET_NAME", f"{_IN_PRODUCTION} (the bucket that holds assets)")
# Where the embedded storage keeps objects (unused with S3).
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config as _BotoConfig

    _S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL") or None
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": _S3_ENDPOINT_URL,
            "region_name": env_str("AWS_S3_REGION_NAME") or "us-east-1",
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": DOWNLOAD_URL_EXPIRY_SECONDS,
            # Signature v4 binds the signed headers (length, checksum); stores other than AWS reject the
            # checksum headers boto3 1.36+ adds by default. django-storages ignores its own
            # signature_version and addressing_style options once client_config is given.
            "client_config": _BotoConfig(
                signature_version="s3v4",
                s3={"addressing_style": env_choice("AWS_S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "auto")},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 5, "mode": "standard"},
                # One client per process (assets/storage/s3.py): its request threads and side-by-side reads share the pool.
                max_pool_connections=32,
            ),
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

STATIC_URL = "/static/"
# A build product of the checkout (make setup), not data: it stays in the checkout whatever PORTAL_VAR_DIR says.
STATIC_ROOT = BASE_DIR / "var" / "static"
# Only the built bundle is served; static/js and static/css are its sources.
STATICFILES_DIRS = [("dist", BASE_DIR / "static" / "dist")]

# --- task queue -----------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    # Longer than the longest media task, so a running task is not handed to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200, minimum=60)
    }
else:
    # kombu's filesystem transport, with messages written whole before consumers can see them (portal/broker.py).
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often an idle worker looks for new messages (kombu's default, 1 s, delays every queued check).
        "polling_interval": 0.1,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A pool process warms up before it reports ready (portal/warmup.py, well under a second alone); Celery's
# default of 4 s would restart it on a loaded machine.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 30
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "UTC"
# Preprocessing: a claimed video beats every HEARTBEAT seconds; one silent for STALL seconds is recovered
# (requeued), and after MAX_ATTEMPTS claims it becomes an Upload Error.
PREPROCESSING_HEARTBEAT_SECONDS = env_int("PREPROCESSING_HEARTBEAT_SECONDS", 10, minimum=1)
PREPROCESSING_STALL_SECONDS = env_int("PREPROCESSING_STALL_SECONDS", 120, minimum=2)
PREPROCESSING_MAX_ATTEMPTS = env_int("PREPROCESSING_MAX_ATTEMPTS", 3, minimum=1)
# How often beat looks for stalled videos.
PREPROCESSING_RECOVERY_INTERVAL_SECONDS = env_int("PREPROCESSING_RECOVERY_INTERVAL_SECONDS", 30, minimum=1)
# Time limits of one media task (soft: the task can clean up; hard: the process is replaced).
MEDIA_TASK_SOFT_TIME_LIMIT = env_int("MEDIA_TASK_SOFT_TIME_LIMIT", 3600, minimum=10)
MEDIA_TASK_TIME_LIMIT = env_int("MEDIA_TASK_TIME_LIMIT", 3900, minimum=20)
# Videos the workers take on (docs/SECURITY.md): at most VIDEO_MAX_PIXELS a frame (8K UHD, 7680 x 4320),
# VIDEO_MAX_FRAMES frames and VIDEO_MAX_DURATION_SECONDS seconds (4 h, and 4 h at 60 fps); more is an Upload Error.
VIDEO_MAX_PIXELS = env_int("VIDEO_MAX_PIXELS", 7680 * 4320, minimum=1)
VIDEO_MAX_FRAMES = env_int("VIDEO_MAX_FRAMES", 4 * 3600 * 60, minimum=1)
VIDEO_MAX_DURATION_SECONDS = env_int("VIDEO_MAX_DURATION_SECONDS", 4 * 3600, minimum=1)
# Address space one worker pool process may take, in MB (0 = no limit): a file that needs more fails alone, with a
# reason, rather than the machine. An 8K UHD rendition took 3.2 GB on 2 cores; about RAM / WORKER_CONCURRENCY suits.
MEDIA_WORKER_MEMORY_LIMIT_MB = env_int("MEDIA_WORKER_MEMORY_LIMIT_MB", 8192, minimum=0)
# How often beat deletes expired import previews and aborts abandoned uploads (uploads/cleanup.py).
UPLOAD_CLEANUP_INTERVAL_SECONDS = env_int("UPLOAD_CLEANUP_INTERVAL_SECONDS", 3600, minimum=60)
CELERY_BEAT_SCHEDULE = {
    "recover-stalled-preprocessing": {
        "task": "assets.tasks.recover_stalled_preprocessing",
        "schedule": float(PREPROCESSING_RECOVERY_INTERVAL_SECONDS),
    },
    "clean-up-abandoned-uploads": {
        "task": "uploads.tasks.clean_up_abandoned_uploads",
        "schedule": float(UPLOAD_CLEANUP_INTERVAL_SECONDS),
    },
}
# Media work and email each have their own queue, so a long video never holds up a notification.
CELERY_TASK_ROUTES = {
    "assets.tasks.process_image": {"queue": "media"},
    "assets.tasks.queue_video": {"queue": "media"},
    "assets.tasks.preprocess_video": {"queue": "media"},
    "assets.tasks.recover_stalled_preprocessing": {"queue": "default"},
    "uploads.tasks.clean_up_abandoned_uploads": {"queue": "default"},
    "uploads.tasks.send_session_email": {"queue": "email"},
    # URL and bucket fetches wait on other people's servers: their own queue (and worker, Procfile `fetcher`), so a
    # slow server never holds a process media work needs (docs/SECURITY.md).
    "uploads.tasks.fetch_imported_file": {"queue": "fetch"},
}

# --- email ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Asset Upload Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_URL = env_str("EMAIL_URL")
_SMTP = "django.core.mail.backends.smtp.EmailBackend"
_EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
if EMAIL_URL:
    _mailer = {"BACKEND": _SMTP, "OPTIONS": {**parse_email_url(EMAIL_URL), "timeout": _EMAIL_TIMEOUT}}
elif env_str("EMAIL_HOST"):
    _mailer = {
        "BACKEND": _SMTP,
        "OPTIONS": {
            "host": env_str("EMAIL_HOST"),
            "port": env_int("EMAIL_PORT", 587),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", True),
            "use_ssl": env_bool("EMAIL_USE_SSL", False),
            "timeout": _EMAIL_TIMEOUT,
        },
    }
elif PRODUCTION:
    env_required("EMAIL_URL", f"{_IN_PRODUCTION} (smtp+tls://user:password@host:587), or set EMAIL_HOST")
else:
    _mailer = {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": str(VAR_DIR / "mail")}}
MAILERS = {"default": _mailer}

# --- accounts and security ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600, minimum=600)
# How long an invitation to join an organization stays valid.
INVITATION_EXPIRY_DAYS = env_int("INVITATION_EXPIRY_DAYS", 14, minimum=1)

# Web and admin logins (django-axes, counts in the database so every web process shares them; docs/SECURITY.md):
# LOGIN_MAX_FAILURES wrong passwords for one username, or LOGIN_MAX_FAILURES_PER_IP from one address (higher: an
# office shares one), each less than LOGIN_LOCKOUT_SECONDS after the one before, pause logging in for
# LOGIN_LOCKOUT_SECONDS after the last; the right password is refused meanwhile.
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 20, minimum=1)
LOGIN_MAX_FAILURES_PER_IP = env_int("LOGIN_MAX_FAILURES_PER_IP", 100, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Proxies in front of the portal that append to X-Forwarded-For: the client's address is the one the outermost of
# them saw. 0 = REMOTE_ADDR only (a client can write X-Forwarded-For itself); 1 by default behind SECURE_PROXY_SSL.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if env_bool("SECURE_PROXY_SSL", False) else 0, minimum=0)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "accounts.login_throttle.LoginThrottleHandler"
AXES_FAILURE_LIMIT = LOGIN_MAX_FAILURES
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
# Tries during a lock-out do not extend it, so the page can say when it ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "accounts.login_throttle.client_ip_address"
AXES_LOCKOUT_CALLABLE = "accounts.login_throttle.lockout_response"
# Only failures are kept (a row per username and address); successful logins are not logged.
AXES_DISABLE_ACCESS_LOG = True
# Password-reset emails: at most PASSWORD_RESET_EMAILS_PER_ADDRESS requests for one address and
# PASSWORD_RESET_REQUESTS_PER_IP from one address per PASSWORD_RESET_THROTTLE_SECONDS (counted in the cache).
PASSWORD_RESET_EMAILS_PER_ADDRESS = env_int("PASSWORD_RESET_EMAILS_PER_ADDRESS", 3, minimum=1)
PASSWORD_RESET_REQUESTS_PER_IP = env_int("PASSWORD_RESET_REQUESTS_PER_IP", 20, minimum=1)
PASSWORD_RESET_THROTTLE_SECONDS = env_int("PASSWORD_RESET_THROTTLE_SECONDS", 3600, minimum=60)

# Cookies go only over HTTPS in production; scripts never read the session cookie (docs/SECURITY.md).
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SESSION_COOKIE_HTTPONLY = True
# Lax: cross-site POSTs carry no session, while links followed from emails (invitations) still do; Strict drops those.
SESSION_COOKIE_SAMESITE = env_choice("SESSION_COOKIE_SAMESITE", ("Lax", "Strict"), "Lax")
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a proxy on another host that terminates TLS: trust its X-Forwarded-Proto (it must overwrite the client's).
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain HTTP is redirected to HTTPS in production; false only where the proxy redirects and sends no X-Forwarded-Proto.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Load balancers check health over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS (sent on HTTPS responses): browsers use only HTTPS for this host for a year once they have seen it.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
# Preloading is a commitment to hstspreload.org that outlives this setting: opt in.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Every page, in every mode, runs only the portal's own scripts, styles, fonts and workers: no inline script,
# style or eval. portal/csp.py adds the object store's origin to img-src, media-src and connect-src.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # The favicon and the select fields' arrow are data: URLs.
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "worker-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Where browsers report violations (a CSP report collector), if anywhere.
CSP_REPORT_URI = env_str("CSP_REPORT_URI")
if CSP_REPORT_URI:
    SECURE_CSP["report-uri"] = [CSP_REPORT_URI]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- product limits -------------------------------------------------------------------------
# Rows per page on the Assets tab and other long lists.
ASSETS_PAGE_SIZE = env_int("ASSETS_PAGE_SIZE", 50, minimum=10)
# Files one upload session holds (seed 003: 1,500), and files one drop or file choice may add (100). A person may also
# hold at most UPLOAD_SESSION_MAX_FILES files registered through the API (outside sessions) still Uploading.
UPLOAD_SESSION_MAX_FILES = env_int("UPLOAD_SESSION_MAX_FILES", 1500, minimum=1)
UPLOAD_MAX_FILES_PER_DROP = env_int("UPLOAD_MAX_FILES_PER_DROP", 100, minimum=1)
# A drop is registered in parts as the browser finishes each file's checksum; its first part keeps room in the
# session for the whole drop this long (renewed by every part), so a drop is never cut off by the session cap.
UPLOAD_DROP_RESERVATION_SECONDS = env_int("UPLOAD_DROP_RESERVATION_SECONDS", 900, minimum=10)
# The largest file accepted, in bytes (default 20 GiB).
UPLOAD_MAX_FILE_SIZE = env_int("UPLOAD_MAX_FILE_SIZE", 20 * 1024**3, minimum=1)
# Files at or above this size go as S3 multipart uploads, in parts of UPLOAD_PART_SIZE (S3 needs 5 MiB or more).
UPLOAD_MULTIPART_THRESHOLD = env_int("UPLOAD_MULTIPART_THRESHOLD", 64 * 1024**2, minimum=5 * 1024**2)
UPLOAD_PART_SIZE = env_int("UPLOAD_PART_SIZE", 16 * 1024**2, minimum=5 * 1024**2)
# How long a signed transfer URL stays valid, in seconds (the seed API promises 60 minutes).
UPLOAD_URL_EXPIRY_SECONDS = env_int("UPLOAD_URL_EXPIRY_SECONDS", 3600, minimum=10)
# Daily quotas of files and bytes registered since 00:00 UTC, per organization and per person (so one account or a
# leaked API key cannot use up the organization's); 0 = no quota (docs/SECURITY.md).
UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY = env_int("UPLOAD_QUOTA_FILES_PER_ORGANIZATION_PER_DAY", 50_000, minimum=0)
UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY = env_int("UPLOAD_QUOTA_BYTES_PER_ORGANIZATION_PER_DAY", 1024**4, minimum=0)
UPLOAD_QUOTA_FILES_PER_USER_PER_DAY = env_int("UPLOAD_QUOTA_FILES_PER_USER_PER_DAY", 20_000, minimum=0)
UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY = env_int("UPLOAD_QUOTA_BYTES_PER_USER_PER_DAY", 512 * 1024**3, minimum=0)
# A transfer that received nothing for this long is abandoned: its multipart uploads are aborted, and a file still
# Uploading this long after its last upload URL expired becomes an Upload Error (it can be added again or retried).
UPLOAD_ABANDONED_SECONDS = env_int("UPLOAD_ABANDONED_SECONDS", 24 * 3600, minimum=600)
# How long a sweep's lock lasts at most (a run killed while holding it frees it after this); see one_run_at_a_time.
SWEEP_LOCK_SECONDS = env_int("SWEEP_LOCK_SECONDS", 3600, minimum=60)
# A stored object no asset refers to, last written longer ago than this, is deleted by the clean-up (an orphan).
STORAGE_ORPHAN_AGE_SECONDS = env_int("STORAGE_ORPHAN_AGE_SECONDS", 24 * 3600, minimum=3600)
# How often the session page asks for status changes, in milliseconds.
UPLOAD_POLL_INTERVAL_MS = env_int("UPLOAD_POLL_INTERVAL_MS", 2000, minimum=250)
# Files the browser transfers at once. The embedded storage endpoint is on the portal's own address, to which a
# browser opens at most 6 connections for all its tabs: there transfers take at most UPLOAD_BROWSER_CONCURRENCY_EMBEDDED
# of them, so pages, polls and the protocol's own requests get through while files move over a slow line.
UPLOAD_BROWSER_CONCURRENCY = env_int("UPLOAD_BROWSER_CONCURRENCY", 6, minimum=1)
UPLOAD_BROWSER_CONCURRENCY_EMBEDDED = env_int("UPLOAD_BROWSER_CONCURRENCY_EMBEDDED", 4, minimum=1)

# --- imports from URLs and buckets (CSV / JSON lists) ----------------------------------------
# The largest CSV or JSON list accepted, in bytes, and the most rows one list may hold.
URL_IMPORT_MAX_LIST_SIZE = env_int("URL_IMPORT_MAX_LIST_SIZE", 10 * 1024**2, minimum=1024)
URL_IMPORT_MAX_ROWS = env_int("URL_IMPORT_MAX_ROWS", 10_000, minimum=1)
# A previewed list nobody started is deleted after this long (a preview keeps all its rows).
URL_IMPORT_PREVIEW_EXPIRY_SECONDS = env_int("URL_IMPORT_PREVIEW_EXPIRY_SECONDS", 24 * 3600, minimum=600)
# Fetching one file: seconds to connect, seconds to wait for each read, seconds for the whole file,
# the largest body in bytes, and how many redirects are followed (each one checked again).
URL_IMPORT_CONNECT_TIMEOUT = env_int("URL_IMPORT_CONNECT_TIMEOUT", 10, minimum=1)
URL_IMPORT_READ_TIMEOUT = env_int("URL_IMPORT_READ_TIMEOUT", 30, minimum=1)
URL_IMPORT_MAX_SECONDS = env_int("URL_IMPORT_MAX_SECONDS", 3600, minimum=1)
# The fetch task's Celery time limits: the soft one MARGIN seconds after URL_IMPORT_MAX_SECONDS (the file becomes an
# Upload Error), the hard one MARGIN seconds later (the process is replaced), whatever the server does (docs/SECURITY.md).
URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS = env_int("URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS", 60, minimum=1)
URL_IMPORT_SOFT_TIME_LIMIT = URL_IMPORT_MAX_SECONDS + URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS
URL_IMPORT_TIME_LIMIT = URL_IMPORT_SOFT_TIME_LIMIT + URL_IMPORT_TIME_LIMIT_MARGIN_SECONDS
URL_IMPORT_MAX_FILE_SIZE = env_int("URL_IMPORT_MAX_FILE_SIZE", UPLOAD_MAX_FILE_SIZE, minimum=1)
URL_IMPORT_MAX_REDIRECTS = env_int("URL_IMPORT_MAX_REDIRECTS", 5, minimum=0)
# Timeouts, connection errors and 5xx answers are tried again this many times, after
# BACKOFF x 2^(attempt - 1) seconds; 4xx answers are final at once.
URL_IMPORT_MAX_RETRIES = env_int("URL_IMPORT_MAX_RETRIES", 3, minimum=0)
URL_IMPORT_RETRY_BACKOFF_SECONDS = env_int("URL_IMPORT_RETRY_BACKOFF_SECONDS", 30, minimum=0)
# Off by default: lets imports and storage integrations reach private, loopback and link-local
# addresses (on-premise installs whose files sit on the local network; the tests' own servers).
URL_IMPORT_ALLOW_PRIVATE_ADDRESSES = env_bool("URL_IMPORT_ALLOW_PRIVATE_ADDRESSES", False)
# What the secrets of storage integrations are encrypted with at rest (a key is derived from it).
# Changing it makes the saved secrets unreadable: enter them again.
STORAGE_INTEGRATION_KEY = env_str("STORAGE_INTEGRATION_KEY") or SECRET_KEY

# --- public API (/api/v1/) ------------------------------------------------------------------
# Lifetime of a bearer token from POST /api/v1/login, in seconds (seed 001: an hour).
API_TOKEN_EXPIRY_SECONDS = env_int("API_TOKEN_EXPIRY_SECONDS", 3600, minimum=60)
# Failed logins one API key may make for one username before it must wait API_LOGIN_LOCKOUT_SECONDS.
API_LOGIN_MAX_FAILURES = env_int("API_LOGIN_MAX_FAILURES", 5, minimum=1)
API_LOGIN_LOCKOUT_SECONDS = env_int("API_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Rows per page of API lists when pageSize is not given, and the largest pageSize accepted.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 20, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100, minimum=1)
# Asset ids one request may add to a batch (seed 001: 1,000; more is refused whole with 422).
BATCH_MAX_ASSETS_PER_REQUEST = env_int("BATCH_MAX_ASSETS_PER_REQUEST", 1000, minimum=1)
# Assets one action of the Assets page (move, add to a batch, retry, delete) takes at once; more is refused whole.
ASSETS_BULK_MAX = env_int("ASSETS_BULK_MAX", 1000, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Created for the portal's user only: stored files, emails (with their reset links), queued task messages.
for _folder in (VAR_DIR, MEDIA_ROOT, VAR_DIR / "mail", VAR_DIR / "broker" / "queue", VAR_DIR / "broker" / "processed", VAR_DIR / "broker" / "control"):
    _folder.mkdir(mode=0o700, parents=True, exist_ok=True)
