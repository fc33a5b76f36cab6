"""The production-shaped stack (scripts/stack.py) for integration tests: its processes share the test database."""

import os
from contextlib import contextmanager

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from tests.conftest import PASSWORD


def _stack_missing() -> str:
    """Why the stack cannot run here ("" when it can)."""
    if connection.vendor != "postgresql":
        return "the stack's processes share the test database: needs PostgreSQL (DATABASE_URL)"
    if not os.environ.get("REDIS_URL"):
        return "the stack's processes need Redis as broker and cache (REDIS_URL)"
    return ""


@pytest.fixture
def production_stack(tmp_path):
    """A function that starts scripts/stack.py's Stack on the test database and Redis (`with production_stack(...) as
    stack:`); skipped, saying why, where PostgreSQL, Redis or nginx are absent."""
    from scripts.stack import Stack, StackUnavailable, ensure_nginx
    from tests.worker import database_url

    missing = _stack_missing()
    if missing:
        pytest.skip(missing)
    try:
        ensure_nginx()
    except StackUnavailable as error:
        pytest.skip(str(error))

    @contextmanager
    def start(**options):
        options.setdefault("redis_url", os.environ["REDIS_URL"])
        with Stack(database_url=database_url(), migrate=False, folder=tmp_path / "stack", **options) as stack:
            yield stack

    return start


@pytest.fixture
def stack_member(member):
    """The uploader, with a password the stack's processes can check (the suite's own hasher, MD5, is not one of
    the portal's)."""
    member.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    member.save(update_fields=["password"])
    return member
