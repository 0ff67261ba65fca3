"""Back-office test set-up: Django on the PostgreSQL that scripts/test.sh starts (BACKOFFICE_TEST_DB_*).

Django is configured here, not for the whole suite, so kiosk-only runs never import it. The
connection settings are handed to Django's settings and then taken out of the environment again,
so a back office another test starts as a subprocess (on its own SQLite) does not inherit them.
"""

from __future__ import annotations

import os

_settings_from_here = "DJANGO_SETTINGS_MODULE" not in os.environ
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

import django  # noqa: E402

# Django sets the process's TZ to settings.TIME_ZONE; the kiosk tests in the same session must keep
# the machine's. Django itself converts through zoneinfo, so putting TZ back changes nothing for it.
_tz = os.environ.get("TZ")
_db_keys = ("NAME", "HOST", "PORT", "USER")
for _k in _db_keys:
    if os.environ.get(f"BACKOFFICE_TEST_DB_{_k}"):
        os.environ[f"BACKOFFICE_DB_{_k}"] = os.environ[f"BACKOFFICE_TEST_DB_{_k}"]
django.setup()  # the test modules import models at collection time (settings read BACKOFFICE_DB_* now)
for _k in _db_keys:
    if os.environ.get(f"BACKOFFICE_TEST_DB_{_k}"):
        os.environ.pop(f"BACKOFFICE_DB_{_k}", None)
if _settings_from_here:
    # Not left for child processes: pytest-xdist's workers started from this process would inherit it,
    # and pytest-django would then load the settings before the lines above point them at PostgreSQL.
    os.environ.pop("DJANGO_SETTINGS_MODULE")
if _tz is None:
    os.environ.pop("TZ", None)
else:
    os.environ["TZ"] = _tz
time.tzset()

from django.conf import settings  # noqa: E402

# Test users' passwords need no key stretching (PBKDF2 costs ~0.5 s a user on this machine).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

import pytest  # noqa: E402
from backoffice_support import Town, make_town  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _on_postgresql(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The production database is PostgreSQL; the tests run on it (only the smoke test uses SQLite).

    At the end, before the test database is dropped: the live server answers a browser's keep-alive
    connection in a thread of its own, which holds a database session until the socket closes. Such
    threads get a few seconds to finish; a session still open after that is ended, so the drop
    succeeds instead of leaving the database behind with a warning.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("the back-office tests run on PostgreSQL: run them through scripts/test.sh, which starts one "
                    "and exports BACKOFFICE_TEST_DB_*", pytrace=False)
    yield
    deadline = time.monotonic() + 5
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and "process_request_thread" in thread.name:
            thread.join(max(0.0, deadline - time.monotonic()))
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def town(db) -> Town:  # type: ignore[no-untyped-def]
    return make_town()


@pytest.fixture
def live_town(transactional_db) -> Town:  # type: ignore[no-untyped-def]
    return make_town()

