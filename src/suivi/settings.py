"""Django settings, read from the environment with safe local defaults.

Only this module reads the environment. Domain code reads ``django.conf.settings``
at call time, never at import time.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("SUIVI_DATA_DIR", Path.cwd() / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """Return SUIVI_SECRET_KEY, or a random key kept in the data directory (never in the repo)."""
    key = os.environ.get("SUIVI_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("SUIVI_DEBUG", False)
ALLOWED_HOSTS = _env_list("SUIVI_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = _env_list("SUIVI_CSRF_TRUSTED_ORIGINS", "")
BASE_URL = os.environ.get("SUIVI_BASE_URL", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "suivi.core",
    "suivi.shops",
    "suivi.customers",
    "suivi.orders",
    "suivi.api",
    "suivi.notifications",
    "suivi.shipments",
    "suivi.archive",
    "suivi.claims",
    "suivi.returns",
    "suivi.customerweb",
    "suivi.backoffice",
    "anymail",
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "suivi.urls"
WSGI_APPLICATION = "suivi.wsgi.application"

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
                "suivi.customerweb.context.site",
                "suivi.backoffice.context.staff",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Embedded default: SQLite in WAL mode in the data directory. PostgreSQL when
# DATABASE_URL points to it. Persistent connections: measured 13x faster on PostgreSQL.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'suivi.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0 if ":memory:" in str(_db["NAME"]) else 600
    _db["OPTIONS"] = {
        # IMMEDIATE: a write transaction takes the lock at BEGIN, so two writers queue
        # instead of failing with "database is locked" on the read-to-write upgrade.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA busy_timeout=20000;"
        ),
    }
    _db.setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test-suivi.sqlite3")
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Accounts (django-allauth): customers sign in by email; staff use the same accounts --
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "customer:orders"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # orders are linked to an account by verified email
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True  # the "magic" sign-in: a code (and link) by email
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "request_login_code": "10/m/ip,3/m/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Suivi] "
ACCOUNT_ADAPTER = "suivi.customerweb.adapter.AccountAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Suivi"
# One 30-second step of drift accepted (RFC 6238 §5.2): a code typed as it changes, or a
# phone clock a few seconds off, still signs in. allauth accepts none by default.
MFA_TOTP_TOLERANCE = 1

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("SUIVI_LANGUAGE", "fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("SUIVI_TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every request while it is missing
MEDIA_ROOT = DATA_DIR / "media"
# Private files (claim photos, archived proofs of purchase): never served as static or media
# files, only by views that check ownership.
SUIVI_PRIVATE_DIR = Path(os.environ.get("SUIVI_PRIVATE_DIR", DATA_DIR / "private")).resolve()
# Live tracking updates (Server-Sent Events) come from the ASGI process of `suivi run`
# (suivi.asgi), beside the WSGI server; its public address (empty: the page polls instead).
SUIVI_LIVE_URL = os.environ.get("SUIVI_LIVE_URL", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- Email and SMS (used by the notification engine) ----------------------------------
EMAIL_BACKEND = os.environ.get("SUIVI_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("SUIVI_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("SUIVI_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("SUIVI_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("SUIVI_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("SUIVI_EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = DATA_DIR / "mail"  # the file backend's folder (the demo's mailbox)
EMAIL_TIMEOUT = int(os.environ.get("SUIVI_EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("SUIVI_DEFAULT_FROM_EMAIL", "suivi@localhost")
# SMS: "twilio" or "brevo" (empty: SMS rules are planned but held as skipped with a reason).
SUIVI_SMS_PROVIDER = os.environ.get("SUIVI_SMS_PROVIDER", "")
SUIVI_TWILIO_API_URL = os.environ.get("SUIVI_TWILIO_API_URL", "https://api.twilio.com")
SUIVI_TWILIO_ACCOUNT_SID = os.environ.get("SUIVI_TWILIO_ACCOUNT_SID", "")
SUIVI_TWILIO_AUTH_TOKEN = os.environ.get("SUIVI_TWILIO_AUTH_TOKEN", "")
SUIVI_TWILIO_FROM = os.environ.get("SUIVI_TWILIO_FROM", "")
SUIVI_BREVO_API_URL = os.environ.get("SUIVI_BREVO_API_URL", "https://api.brevo.com")
SUIVI_BREVO_API_KEY = os.environ.get("SUIVI_BREVO_API_KEY", "")
# Shared secret that Brevo's delivery-report webhook must present (?token=… in its URL).
SUIVI_BREVO_WEBHOOK_TOKEN = os.environ.get("SUIVI_BREVO_WEBHOOK_TOKEN", "")
SUIVI_SMS_SENDER = os.environ.get("SUIVI_SMS_SENDER", "Suivi")
SUIVI_SMS_TIMEOUT_SECONDS = float(os.environ.get("SUIVI_SMS_TIMEOUT_SECONDS", "10"))
# Web push (VAPID, RFC 8292): a private key in PEM or raw base64url; else one is created in
# the data directory on first use (0600).
SUIVI_VAPID_PRIVATE_KEY = os.environ.get("SUIVI_VAPID_PRIVATE_KEY", "")
SUIVI_VAPID_SUBJECT = os.environ.get("SUIVI_VAPID_SUBJECT", "mailto:operator@localhost")
# Outbound HTTP to merchant URLs (webhooks): private ranges refused unless listed here.
SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS = _env_list("SUIVI_HTTP_ALLOWED_PRIVATE_NETWORKS", "")
# Fernet keys for secrets at rest, newest first; else a key file in the data directory.
SUIVI_ENCRYPTION_KEYS = _env_list("SUIVI_ENCRYPTION_KEYS", "")
# Email service providers through django-anymail (SUIVI_EMAIL_BACKEND=anymail.backends.…).
ANYMAIL = {
    key: value
    for key, value in {
        "WEBHOOK_SECRET": os.environ.get("SUIVI_ANYMAIL_WEBHOOK_SECRET", ""),
        "POSTMARK_SERVER_TOKEN": os.environ.get("SUIVI_POSTMARK_SERVER_TOKEN", ""),
        "BREVO_API_KEY": os.environ.get("SUIVI_BREVO_EMAIL_API_KEY", ""),
        "MAILGUN_API_KEY": os.environ.get("SUIVI_MAILGUN_API_KEY", ""),
        "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("SUIVI_MAILGUN_WEBHOOK_SIGNING_KEY", ""),
        "SENDGRID_API_KEY": os.environ.get("SUIVI_SENDGRID_API_KEY", ""),
    }.items()
    if value
}

# --- Notifications: workers and scale-out ---------------------------------------------
# "embedded": the worker of `suivi run` / `suivi worker` sends. "celery": that worker only
# claims and dispatches batches to Celery workers (`suivi celery worker`), which send.
SUIVI_TASKS = os.environ.get("SUIVI_TASKS", "embedded")
CELERY_BROKER_URL = os.environ.get("SUIVI_CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
SUIVI_CELERY_QUEUE = os.environ.get("SUIVI_CELERY_QUEUE", "suivi")
SUIVI_OUTBOX_BATCH = int(os.environ.get("SUIVI_OUTBOX_BATCH", "100"))
# Tracking: legs polled per claim, and business days without movement before a parcel is
# "stalled" per carrier or "carrier:service" (JSON, e.g. {"default": 3, "laposte:lettre": 5}).
SUIVI_POLL_BATCH = int(os.environ.get("SUIVI_POLL_BATCH", "100"))
SUIVI_STALLED_BUSINESS_DAYS = json.loads(os.environ.get("SUIVI_STALLED_BUSINESS_DAYS", "{}"))
SUIVI_OUTBOX_LEASE_SECONDS = int(os.environ.get("SUIVI_OUTBOX_LEASE_SECONDS", "120"))
SUIVI_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("SUIVI_OUTBOX_MAX_ATTEMPTS", "12"))

# --- Suivi ----------------------------------------------------------------------------
# Idempotency records are kept this long, then purged by the worker.
SUIVI_IDEMPOTENCY_TTL_HOURS = int(os.environ.get("SUIVI_IDEMPOTENCY_TTL_HOURS", "24"))
# How often an API key's last-used time is written (avoids one UPDATE per request).
SUIVI_API_KEY_TOUCH_SECONDS = int(os.environ.get("SUIVI_API_KEY_TOUCH_SECONDS", "60"))
SUIVI_WORKER_POLL_SECONDS = float(os.environ.get("SUIVI_WORKER_POLL_SECONDS", "1.0"))

# Behind a reverse proxy: take the client address from X-Forwarded-For (rate limits).
SUIVI_TRUST_X_FORWARDED_FOR = _env_bool("SUIVI_TRUST_X_FORWARDED_FOR", False)

# Caches: the database, so that rate limits hold across web processes (embedded and scale-out).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "suivi_cache",
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SUIVI_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per outbound request and per SMTP command is noise; attempts are recorded.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},  # aiosmtpd (tests and benchmarks)
    },
}

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    CSRF_COOKIE_HTTPONLY = False
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
