"""Settings for followup, read from the environment (12-factor).

Every variable is listed in README.md and .env.example. A bad value stops start-up
with one line naming the variable (``followup.config.ConfigError``).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from followup import config

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ

try:
    DEBUG = config.read_bool(ENV, "DEBUG", False)
    SECRET_KEY = config.read_secret_key(ENV, DEBUG)
    # Old keys still accepted when checking signatures (sessions, unsubscribe links)
    # while SECRET_KEY is rotated; see README, Operations.
    SECRET_KEY_FALLBACKS = config.read_list(ENV, "SECRET_KEY_FALLBACKS", [])
    ALLOWED_HOSTS = config.read_list(ENV, "ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
    TIME_ZONE = config.read_timezone(ENV, "TIME_ZONE", "UTC")
    DATABASES = {"default": config.read_database(ENV, BASE_DIR)}
    _email = config.read_email(ENV)
    Q_WORKERS = config.read_int(ENV, "Q_WORKERS", 2, minimum=1)
    DEFAULT_FROM_EMAIL = ENV.get("DEFAULT_FROM_EMAIL", "").strip() or "followup@localhost"
    SITE_URL = ENV.get("SITE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
    REDIS_URL = ENV.get("REDIS_URL", "").strip()
    SECURE_SSL = config.read_bool(ENV, "SECURE_SSL", False)
except config.ConfigError as exc:
    # One line, no traceback: ops read this in `docker compose logs`.
    sys.stderr.write(f"followup: bad configuration: {exc}\n")
    raise SystemExit(2) from None

globals().update(_email)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "django_q",
    "ninja",  # serves the API docs' Swagger UI from local static files, no CDN
    "axes",  # failed-login limits (followup/security.py)
    "leads",
    "cadences",
    "followup",  # its admin.py shows the audit log (followup/audit.py) to managers
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "followup.audit.AuditActorMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "followup.security.LoginAttemptsBackend",  # refuses while locked out; logs no one in
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "followup.urls"
WSGI_APPLICATION = "followup.wsgi.application"

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
                "followup.context_processors.navigation",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(ENV.get("STATIC_ROOT", "").strip() or BASE_DIR / "var" / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or "pytest" in sys.modules
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cadences-today"
LOGOUT_REDIRECT_URL = "login"
# Sessions read from the cache, written through to the database: one query less on
# every page, and nobody is logged out when a process restarts.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_AGE = 60 * 60 * 12  # a working day; reps log in each morning
SESSION_COOKIE_HTTPONLY = True
# A shared or stolen laptop: the session also ends with the browser, not only at 12 hours.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less meta tag instead

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if SECURE_SSL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): scripts only from our own static files, never
# inline, never eval (htmx is told so in base.html's htmx-config meta tag). Style
# attributes stay allowed (progress bars, chart widths); <style> elements do not.
# data: images are Bootstrap's own inline SVG icons (select arrows, the menu toggler).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-elem": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Failed logins (django-axes, followup/security.py): 5 per username and address, then
# 15 minutes' wait; a success clears the count.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "followup.security.login_locked_out"
AXES_CLIENT_IP_CALLABLE = "followup.security.client_ip"
AXES_VERBOSE = False

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# django-q2: values chosen from its source. `retry` must exceed `timeout` or a slow
# task is handed to a second worker while the first still runs; `catch_up` off so a
# worker that was down does not replay every missed minute of the tick at once.
Q_CLUSTER = {
    "name": "followup",
    "workers": Q_WORKERS,
    "timeout": 240,
    "retry": 600,
    "max_attempts": 3,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "save_limit": 500,
    "ack_failures": True,
    "poll": 1,
    "label": "Worker",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},
        # django-axes logs every login at INFO; lockouts, which matter, are WARNING.
        "axes": {"level": "WARNING"},
    },
}

FOLLOWUP = {
    "DEFAULT_CALL_CAPACITY": 50,
    "DEFAULT_EMAIL_CAPACITY": 50,
    "SEND_LEASE_SECONDS": 300,
    "SMTP_RETRY_BACKOFF_SECONDS": [60, 300, 900, 3600],
}
