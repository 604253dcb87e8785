"""Settings for the DNS overrides admin, read from the environment.

Every knob is an environment variable (see README, "Configuration"). Junk values are
rejected at start-up with ImproperlyConfigured rather than silently defaulted.
"""

from __future__ import annotations

import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
# A reverse proxy in front sets X-Forwarded-Proto and X-Forwarded-For.
BEHIND_PROXY = envbool("BEHIND_PROXY", False)
# PRODUCTION=1 makes the deployment settings mandatory (SECRET_KEY, ALLOWED_HOSTS)
# instead of falling back to local-use defaults.
PRODUCTION = envbool("PRODUCTION", False)
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

# Local data (SQLite database, generated secret key) lives outside the code.
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when PRODUCTION is on (generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    # Local use: generate once, keep it so that sessions survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

# Relay passwords are encrypted in the database with these Fernet keys (senders.fields):
# the first encrypts, all decrypt, so a new key goes first and old ones stay behind it
# until `manage.py reencrypt_secrets` has run (docs/security.md, "Passwords at rest").
GENERATE_FERNET_KEY = (
    "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)
# Only for the test suite: a fixed key, so that tests need no environment.
TEST_ENCRYPTION_KEY = "dGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uLTMyYiE="


def _encryption_keys() -> list[str]:
    from cryptography.fernet import Fernet

    keys, source = envlist("SECRETS_ENCRYPTION_KEYS"), "SECRETS_ENCRYPTION_KEYS"
    if not keys and PRODUCTION:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEYS is required when PRODUCTION is on: it encrypts the relay "
            f"passwords in the database (generate one with: {GENERATE_FERNET_KEY})"
        )
    if not keys and TESTING:
        keys = [TEST_ENCRYPTION_KEY]
    elif not keys:
        # Local use: generate once, owner-only from the start, like the secret key.
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path = DATA_DIR / "secrets_encryption_key"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(Fernet.generate_key().decode())
        keys, source = [path.read_text().strip()], str(path)
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{source}: key {number} of {len(keys)} is not a Fernet key (32 url-safe "
                f"base64-encoded bytes; generate one with: {GENERATE_FERNET_KEY})"
            ) from None
    return keys


SECRETS_ENCRYPTION_KEYS = _encryption_keys()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "" if PRODUCTION else "localhost,127.0.0.1,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when PRODUCTION is on")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "csp",
    "axes",
    "senders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "senders.middleware.NoStoreMiddleware",
    # Before any view or process_view (CSRF reads the body) touches request.POST.
    "senders.middleware.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "senders.middleware.SessionClockMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "senders.middleware.HtmxLoginRedirectMiddleware",
    "axes.middleware.AxesMiddleware",
    "senders.middleware.DatabaseTroubleMiddleware",
]

ROOT_URLCONF = "overrides_admin.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "overrides_admin.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'overrides.sqlite3'}",
        conn_max_age=envint("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer instead of failing at once with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A save waits this long for a sender's row lock, then fails whole with a clear
    # page (senders.middleware.DatabaseTroubleMiddleware) rather than hanging.
    lock_timeout = envint("DB_LOCK_TIMEOUT_SECONDS", 15) * 1000
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c lock_timeout={lock_timeout}"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
if TESTING:
    # Hashing is deliberately slow; tests create many users and need no strength.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Accounts (docs/security.md, "Accounts"; senders/accounts.py).
# The client address: behind BEHIND_PROXY, the X-Forwarded-For entry appended by the
# outermost of TRUSTED_PROXY_COUNT proxies; used for lockouts, revisions, export fetches.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 1 if BEHIND_PROXY else 0)
# AXES_FAILURE_LIMIT failures lock out the pair (username, client address) for the
# cool-off; AXES_ADDRESS_FAILURE_LIMIT failures from one address, whatever the
# usernames, refuse that address for every username (0: no such limit).
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_ADDRESS_FAILURE_LIMIT = envint("AXES_ADDRESS_FAILURE_LIMIT", 20)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "senders.accounts.client_address"
AXES_HANDLER = "senders.accounts.LoginAttemptHandler"
AXES_LOCKOUT_CALLABLE = "senders.accounts.locked_out"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLED = envbool("AXES_ENABLED", True)
AXES_VERBOSE = False
# A session ends after SESSION_IDLE_MINUTES without a request (a working day) and at
# the latest SESSION_MAX_AGE_HOURS after the log-in (senders.middleware.SessionClockMiddleware).
SESSION_IDLE_MINUTES = envint("SESSION_IDLE_MINUTES", 8 * 60)
SESSION_MAX_AGE_HOURS = envint("SESSION_MAX_AGE_HOURS", 24)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
for _name, _value, _least in (
    ("TRUSTED_PROXY_COUNT", TRUSTED_PROXY_COUNT, 0),
    ("AXES_FAILURE_LIMIT", AXES_FAILURE_LIMIT, 1),
    ("AXES_ADDRESS_FAILURE_LIMIT", AXES_ADDRESS_FAILURE_LIMIT, 0),
    ("AXES_COOLOFF_MINUTES", AXES_COOLOFF_TIME.total_seconds() // 60, 1),
    ("SESSION_IDLE_MINUTES", SESSION_IDLE_MINUTES, 1),
    ("SESSION_MAX_AGE_HOURS", SESSION_MAX_AGE_HOURS, 1),
):
    if _value < _least:
        raise ImproperlyConfigured(f"{_name} must be at least {_least}, not {_value:g}")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "senders:index"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Outside production, serve static files straight from the app folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION

# Uploaded tables: refuse anything bigger than this with a clear message.
MAX_TABLE_UPLOAD_BYTES = envint("MAX_TABLE_UPLOAD_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_TABLE_UPLOAD_BYTES + 512 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_TABLE_UPLOAD_BYTES + 512 * 1024
# Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE are refused with 413 before they are read
# (senders.middleware.RequestSizeLimitMiddleware); a file stops at the table limit.
FILE_UPLOAD_HANDLERS = [
    "senders.uploads.TableSizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# The largest table we support (and benchmark, docs/benchmarks.md): a bulk save, an import
# or a test of unsaved text with more rules is refused before it is parsed. Lines count
# too (blank lines and comments cost work): twice the rules, a comment line for each.
MAX_TABLE_RULES = envint("MAX_TABLE_RULES", 10_000)
MAX_TABLE_LINES = 2 * MAX_TABLE_RULES
# Expensive requests (bulk check and save, import, a test of unsaved text, history
# diffs) in flight at once: per user, and in all across every worker (senders.limits).
MAX_EXPENSIVE_PER_USER = envint("MAX_EXPENSIVE_PER_USER", 1)
MAX_EXPENSIVE_REQUESTS = envint("MAX_EXPENSIVE_REQUESTS", 2)
# A slot not given back after this long (a worker killed mid-request) is free again.
EXPENSIVE_SLOT_SECONDS = envint("EXPENSIVE_SLOT_SECONDS", 120)

# Security: secure cookies and HSTS whenever the site is served over HTTPS.
SECURE_HTTPS = envbool("SECURE_HTTPS", PRODUCTION)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # pages carry the token in hx-headers; no script reads the cookie
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", SECURE_HTTPS)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere (templates, htmx, the Django admin): only our own
# files. htmx's indicator style is off (<meta name="htmx-config">) and in app.css.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # runserver's request log as Django has it, less the export's ?token= values.
    "filters": {"hide_export_query": {"()": "senders.logfilters.HideExportQuery"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["hide_export_query"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# bench/export.py only: serve /bench/ceiling, a constant text body through the same
# middleware, to compare the export with. Never on unless set.
BENCHMARK_CEILING_VIEW = envbool("BENCHMARK_CEILING_VIEW", False)

# DNS defaults for the "test a message" view (a sender may name its own servers).
DNS_TIMEOUT = envint("DNS_TIMEOUT_SECONDS", 5)

# Relay check (senders.relaycheck): per-step timeout, the most a page waits for all
# relays, how often one relay may be checked, and checks per person per minute.
RELAY_CHECK_TIMEOUT_SECONDS = envint("RELAY_CHECK_TIMEOUT_SECONDS", 10)
RELAY_CHECK_TOTAL_SECONDS = envint("RELAY_CHECK_TOTAL_SECONDS", 25)
RELAY_CHECK_INTERVAL_SECONDS = envint("RELAY_CHECK_INTERVAL_SECONDS", 10)
RELAY_CHECKS_PER_MINUTE = envint("RELAY_CHECKS_PER_MINUTE", 30)
# Extra CA certificates to trust for relay certificates (a PEM file); empty: the system's.
RELAY_CHECK_CA_FILE = os.environ.get("RELAY_CHECK_CA_FILE", "")

# The senders' mail goes through overrides-agent on Postfix (docs/postfix.md): lint
# then warns about the lines Postfix cannot honour exactly, and "test a message" shows
# how the Postfix agent routes where that differs from the full evaluation.
# Without it, a sender gets them once overrides-agent has fetched its export.
POSTFIX_AGENT = envbool("POSTFIX_AGENT", False)
