"""Settings from the environment, so every app process of a town reads the same ones.

PostgreSQL when ``BACKOFFICE_DB_NAME`` is set (production, and the tests, which start one);
otherwise an SQLite file (``make run`` and a one-machine trial). Nothing that matters lives on
an app process's own disk: scans go into the database through ``DatabaseStorage``.
"""

from __future__ import annotations

import os
from pathlib import Path

import contract

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("BACKOFFICE_SECRET_KEY", "dev-only-not-secret-7c1f9e0b2d4a4c7f8e1f")
DEBUG = os.environ.get("BACKOFFICE_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver",
                 *[h for h in os.environ.get("BACKOFFICE_ALLOWED_HOSTS", "").split(",") if h]]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("BACKOFFICE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
if os.environ.get("BACKOFFICE_HTTPS", "0") == "1":  # behind a TLS-terminating proxy: cookies only over HTTPS
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
SESSION_COOKIE_AGE = 10 * 3600  # one working day: a clerk's PC left logged in overnight is not
# Fernet keys (comma-separated, newest first) for identity, phone and card photo at rest.
# Without one, a key derived from SECRET_KEY is used: fine for a trial, not for a town.
FIELD_KEYS = [k for k in os.environ.get("BACKOFFICE_FIELD_KEYS", "").split(",") if k]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "backoffice.accounts",
    "backoffice.kiosks",
    "backoffice.cases",
    "backoffice.api",
    "backoffice.fleet",
    "backoffice.notifications",
    "backoffice.track",
    "backoffice.ratings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "backoffice.fleet.middleware.UploadAdmission",  # threads kept for heartbeats in a reconnection storm
    "django.contrib.sessions.middleware.SessionMiddleware",
    "backoffice.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

if os.environ.get("BACKOFFICE_DB_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ["BACKOFFICE_DB_NAME"],
            "USER": os.environ.get("BACKOFFICE_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("BACKOFFICE_DB_PASSWORD", ""),
            "HOST": os.environ.get("BACKOFFICE_DB_HOST", ""),
            "PORT": os.environ.get("BACKOFFICE_DB_PORT", ""),
            "CONN_MAX_AGE": 60,
        }
    }
else:
    _sqlite = Path(os.environ.get("BACKOFFICE_SQLITE_PATH", REPO_DIR / "var" / "backoffice.sqlite3"))
    _sqlite.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _sqlite,
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STORAGES = {
    "default": {"BACKEND": "backoffice.cases.storage.DatabaseStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# A chunk is the biggest body the API takes; a package must fit in MAX_PACKAGE_BYTES (checked apart).
DATA_UPLOAD_MAX_MEMORY_SIZE = contract.MAX_CHUNK_BYTES + 64 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "backoffice": {"handlers": ["console"], "level": os.environ.get("BACKOFFICE_LOG_LEVEL", "INFO")},
    },
}

# The fleet (backoffice/fleet): when a kiosk counts as offline and when a condition becomes an alert.
FLEET = {
    "missed_heartbeats": int(os.environ.get("BACKOFFICE_FLEET_MISSED_HEARTBEATS", "3")),
    "device_down_minutes": float(os.environ.get("BACKOFFICE_FLEET_DEVICE_DOWN_MINUTES", "10")),
    "originals_hours": float(os.environ.get("BACKOFFICE_FLEET_ORIGINALS_HOURS", "12")),
    "outbox_stuck_minutes": float(os.environ.get("BACKOFFICE_FLEET_OUTBOX_STUCK_MINUTES", "30")),
}

# The resident after the kiosk (issue 14): the public progress page's limits, text messages, results.
TRACK = {
    "per_case": int(os.environ.get("BACKOFFICE_TRACK_TRIES_PER_CASE", "5")),  # wrong answers per case per window
    "per_address": int(os.environ.get("BACKOFFICE_TRACK_TRIES_PER_ADDRESS", "20")),
    "window_minutes": int(os.environ.get("BACKOFFICE_TRACK_WINDOW_MINUTES", "60")),
    "verified_minutes": int(os.environ.get("BACKOFFICE_TRACK_VERIFIED_MINUTES", "15")),
}
SMS = {
    # "https://sms.example/send" (POST {"to","text","id"}) or an apprise URL with {to} for the number
    "gateway": os.environ.get("BACKOFFICE_SMS_GATEWAY", ""),
    "token": os.environ.get("BACKOFFICE_SMS_TOKEN", ""),
    "retry_min_s": float(os.environ.get("BACKOFFICE_SMS_RETRY_MIN_S", "30")),
    "retry_max_s": float(os.environ.get("BACKOFFICE_SMS_RETRY_MAX_S", "3600")),
}
RESIDENT = {
    "unfetched_days": int(os.environ.get("BACKOFFICE_RESULT_UNFETCHED_DAYS", "7")),  # 台州: 7 days
}
RATINGS = {
    "rectify_working_days": int(os.environ.get("BACKOFFICE_RECTIFY_WORKING_DAYS", "5")),  # 5, 7, 10 or 15
    "forward": os.environ.get("BACKOFFICE_RATINGS_FORWARD", ""),  # adapter: "http_json"
    "forward_url": os.environ.get("BACKOFFICE_RATINGS_FORWARD_URL", ""),
    "forward_token": os.environ.get("BACKOFFICE_RATINGS_FORWARD_TOKEN", ""),
}
