"""What the portal writes under var/ on embedded defaults is its own user's only: the secret key and the SQLite
database are 0600, the folders of stored files, emails and queued tasks 0700."""

import os
import stat
import subprocess
import sys

from django.conf import settings

# A fresh process: settings load, the database is opened and written, an email is written to var/mail. It prints
# the mode of SQLite's write-ahead log (recent writes), which exists only while the database is open.
_START = """
import django, os, stat
django.setup()
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (id integer)")
send_mail("Reset your password", "https://portal.example.com/reset/secret-token/", None, ["bob@example.com"])
print(oct(stat.S_IMODE(os.stat(f"{settings.DATABASES['default']['NAME']}-wal").st_mode)))
"""


def _start_portal(var_dir) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(var_dir.parent),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(var_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", f"import os; os.umask(0o022); exec({_START!r})"],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_secret_key_and_the_database_are_created_readable_by_their_owner_only(tmp_path):
    var = tmp_path / "var"
    wal_mode = _start_portal(var)

    assert _mode(var / "secret_key") == 0o600
    assert _mode(var / "db.sqlite3") == 0o600
    assert wal_mode == "0o600"


def test_the_folders_of_stored_files_emails_and_tasks_are_closed_to_others(tmp_path):
    var = tmp_path / "var"
    _start_portal(var)

    for folder in (var, var / "media", var / "mail", var / "broker" / "queue"):
        assert _mode(folder) == 0o700, folder
    assert list((var / "mail").iterdir()), "the email was written"


def test_a_secret_key_and_database_left_readable_by_an_older_checkout_are_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    (var / "secret_key").write_text("k" * 50)
    (var / "db.sqlite3").touch()
    os.chmod(var / "secret_key", 0o644)
    os.chmod(var / "db.sqlite3", 0o644)

    _start_portal(var)

    assert (var / "secret_key").read_text() == "k" * 50
    assert _mode(var / "secret_key") == 0o600
    assert _mode(var / "db.sqlite3") == 0o600
