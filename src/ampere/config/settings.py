"""Settings, all from the environment (composition root)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parents[3]
DATA_DIR = Path(os.environ.get("AMPERE_DATA_DIR", BASE_DIR / "var")).resolve()


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    """SECRET_KEY from the environment, else a random key kept in the data folder (never in git)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        import secrets

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _flag("AMPERE_DEBUG")
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "pgtrigger",
    "django_htmx",
    "ampere.rating",
    "ampere.accounts",
    "ampere.metering",
    "ampere.billing",
    "ampere.api",
    "ampere.backoffice",
    "ampere.cli",
    "ampere.payments",
    "ampere.web",
    "ampere.console",
    "ampere.portal",
    # After ampere.web, whose ninja/swagger.html overrides ninja's; ninja serves Swagger UI's
    # files itself (no CDN) when it is an installed app.
    "ninja",
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
    "django_htmx.middleware.HtmxMiddleware",
    # The console's and portal's viewer, local time and language (see ampere.web.middleware).
    "ampere.web.middleware.ViewerMiddleware",
    "ampere.api.auth.PartnerAuditMiddleware",
]

# Signed partner calls to the API (banks, networks, POS, head-ends) need none of the middleware
# that serves people; see ampere.config.wsgi.
PARTNER_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ampere.api.auth.PartnerAuditMiddleware",
]

ROOT_URLCONF = "ampere.config.urls"
WSGI_APPLICATION = "ampere.config.wsgi.application"
ASGI_APPLICATION = "ampere.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ampere.web.context.shell",
            ]
        },
    }
]


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    else:
        config = {
            "ENGINE": "ampere.embedded_db",
            "NAME": os.environ.get("AMPERE_DATABASE_NAME", "ampere"),
            "USER": "postgres",
            "HOST": "",
            "PORT": "",
            "CONN_MAX_AGE": 60,
        }
    # Each checkout tests in its own database, so two checkouts on one server do not collide.
    checkout = hashlib.sha1(str(BASE_DIR).encode(), usedforsecurity=False).hexdigest()[:8]
    config["TEST"] = {"NAME": os.environ.get("AMPERE_TEST_DATABASE", f"test_ampere_{checkout}")}
    config.setdefault("OPTIONS", {})
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("vi", "Tiếng Việt"), ("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "src" / "ampere" / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = DATA_DIR / "media"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True

# E-invoice signing keys and certificates, <utility code>.key.pem and .cert.pem (never in git).
EINVOICE_CREDENTIALS_DIR = Path(
    os.environ.get("AMPERE_EINVOICE_CREDENTIALS_DIR", DATA_DIR / "einvoice")
).resolve()

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = DATA_DIR / "outbox"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("AMPERE_LOG_LEVEL", "WARNING")},
}
