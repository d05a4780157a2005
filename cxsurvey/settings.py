"""CXSurvey settings, read from the environment (see README.md, "Configuration").

Defaults are the embedded set-up: SQLite in the project folder, mail printed to
the console, no Redis, no broker. Production is the same file with variables set.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from cxsurvey import env

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.boolean("DEBUG", False)

SECRET_KEY = env.string("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY: must be set when DEBUG is off "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "development-only-key-never-use-in-production-8c1f0e6b2a7d4e9f"  # noqa: S105

SITE_URL = env.http_url("SITE_URL", "http://127.0.0.1:8000")
_site = urlsplit(SITE_URL)
ALLOWED_HOSTS = env.string_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [_site.hostname or ""]
)
CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]

INSTALLED_APPS = [
    "cxsurvey.apps.BackOfficeAdminConfig",  # Django's admin with the sign-in rules of cxsurvey.signin
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API docs' assets, served by the app itself
    "crispy_forms",  # the staff's set-up forms, laid out in Python
    "crispy_bootstrap5",
    "anymail",
    "axes",  # failed sign-ins and lockouts
    "django_otp",
    "django_otp.plugins.otp_totp",  # authenticator apps (TOTP) as the second factor
    "cxsurvey",  # the project's own commands (runtasks)
    "surveys",
    "feedback",
    "webhooks",
    "audit",
    "privacy",
    "followup",
    "insights",
    "delighted_compat",  # Delighted's API, webhooks and exports, over the models above
]

MIDDLEWARE = [
    # First: /healthz, /readyz and /metrics answer probes that ask by the process's own address
    # over plain HTTP, before the host check and the redirect to https (see cxsurvey.probes).
    "cxsurvey.probes.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "cxsurvey.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "cxsurvey.security.IdleSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.log.AuditMiddleware",  # who does what, from where: for the audit log
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the sign-in page that explains it
]

ROOT_URLCONF = "cxsurvey.urls"
WSGI_APPLICATION = "cxsurvey.wsgi.application"

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
                "cxsurvey.security.csp_nonce",
            ],
        },
    },
]

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A new PostgreSQL connection costs ~9 ms (SCRAM); keep them, but check them after a failover.
DATABASES["default"]["CONN_MAX_AGE"] = env.integer("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A read replica, for the heavy reads only (cxsurvey/routers.py); without it nothing changes.
if _replica := env.replica_database("DATABASE_REPLICA_URL", DATABASES["default"]):
    DATABASES["replica"] = _replica
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASE_ROUTERS = ["cxsurvey.routers.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "cxsurvey.routers.pin_writers",
    )
# Who just changed something reads from the primary for this long, so their next page shows it;
# everyone does while the replica is further behind than this.
REPLICA_PIN_SECONDS = env.integer("REPLICA_PIN_SECONDS", 5)
REPLICA_MAX_LAG_SECONDS = env.integer("REPLICA_MAX_LAG_SECONDS", 30, minimum=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", "locmem://")}

# One login page for the app's pages and the back office (cxsurvey.signin.SignInView); after it the
# page asked for, else the home page; after logging out, the login page again.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "feedback:home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    "cxsurvey.signin.LockoutBackend",  # refuses locked-out users and addresses before the password check
    "django.contrib.auth.backends.ModelBackend",
]
# Failed sign-ins (django-axes): after this many within the cool-off time an account is locked,
# whatever address tries it; an address is locked after its own, larger number (an office behind
# one address has many people). The cool-off time counts from the last failure before the lockout.
LOGIN_FAILURES_PER_USER = env.integer("LOGIN_FAILURES_PER_USER", 5, minimum=1)
LOGIN_FAILURES_PER_CLIENT = env.integer("LOGIN_FAILURES_PER_CLIENT", 20, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_USER
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # the order cxsurvey.signin.LoginAttempts reads
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_HANDLER = "cxsurvey.signin.LoginAttempts"
AXES_CLIENT_IP_CALLABLE = "surveys.ratelimit.client_address"
AXES_LOCKOUT_CALLABLE = "cxsurvey.signin.locked_out"
AXES_RESET_ON_SUCCESS = True
# Tries while locked out do not prolong the lockout, so an attacker cannot keep an account shut.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Failed attempts are kept for the cool-off time only; successful sign-ins are not logged.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
# Masked in the form data that axes keeps of a failed attempt (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "csrfmiddlewaretoken"]
# A second factor (an authenticator app): "off" leaves it to each user, "superusers" requires it of
# superusers, "staff" of everyone who signs in to the back office. Whoever has set one up needs it.
REQUIRE_2FA = env.choice("REQUIRE_2FA", "off", ["off", "superusers", "staff"])
OTP_TOTP_ISSUER = f"CXSurvey {_site.hostname}"  # the entry's name in the authenticator app
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # a device's secret is shown once, to its owner, while setting it up
# A back-office session ends after this long without a request.
SESSION_IDLE_MINUTES = env.integer("SESSION_IDLE_MINUTES", 60, minimum=5)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
PASSWORD_RESET_TIMEOUT = 3600  # a reset link works for an hour
# The API's schema and docs describe every endpoint: for the back office unless made public.
API_DOCS_PUBLIC = env.boolean("API_DOCS_PUBLIC", False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.choice("LANGUAGE_CODE", "de", ["de", "en"])
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.string("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The project's static files beside the apps', with the front-end files it vendors (static/vendor/README.md).
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files the app writes (exports prepared in the background). No web server may serve this folder.
MEDIA_ROOT = Path(env.string("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Mail
globals().update(env.email("EMAIL_URL", "console://"))
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "CXSurvey <surveys@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Provider keys and the tracking webhooks' shared secret, from ANYMAIL_* variables. Without
# WEBHOOK_SECRET the tracking webhooks do not exist: an open one would let anyone forge bounces.
ANYMAIL = env.prefixed("ANYMAIL_")

# Replies to customers from a follow-up case say "Reply-To: replies+<case token>@domain" of this
# mailbox, whose mail the provider's inbound webhook brings back to the case (README, "Email
# providers"). Empty: replies go out with the survey's Reply-To, and answers come back only by threading.
FOLLOWUP_REPLY_ADDRESS = env.string("FOLLOWUP_REPLY_ADDRESS")
if FOLLOWUP_REPLY_ADDRESS and not re.fullmatch(r"[^@+\s]+@[^@\s]+\.[^@\s]+", FOLLOWUP_REPLY_ADDRESS):
    raise ImproperlyConfigured(
        "FOLLOWUP_REPLY_ADDRESS: must be an address like replies@example.com, without a +"
    )

# Test emails of a survey go to the sender's own address, or to these (a shared test inbox).
TEST_EMAIL_RECIPIENTS = env.string_list("TEST_EMAIL_RECIPIENTS", [])

# Distribution. No touchpoint may ask the same person again sooner than this.
RECONTACT_MINIMUM_DAYS = env.integer("RECONTACT_MINIMUM_DAYS", 7, minimum=0)

# Background work: without a broker the same functions run in-process (see README).
CELERY_BROKER_URL = env.string("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TIMEZONE = TIME_ZONE
# Due times live in the database; the beat only wakes the senders up. An expired wake-up
# is dropped, so a stopped worker does not come back to a pile of them.
CELERY_BEAT_SCHEDULE = {
    "dispatch": {"task": "surveys.tasks.dispatch", "schedule": 10.0, "options": {"expires": 9}},
    "purge-idempotency-keys": {"task": "surveys.tasks.purge_idempotency_keys", "schedule": 3600.0},
    "tidy-exports": {"task": "feedback.tasks.tidy_exports", "schedule": 60.0},
    "deliver-webhooks": {"task": "webhooks.tasks.deliver", "schedule": 5.0, "options": {"expires": 4}},
    "delete-old-webhook-messages": {"task": "webhooks.tasks.delete_old_messages", "schedule": 3600.0},
    "evaluate-alert-rules": {"task": "followup.tasks.evaluate", "schedule": 5.0, "options": {"expires": 4}},
    "deliver-alert-notifications": {"task": "followup.tasks.deliver_notifications", "schedule": 30.0},
    "purge-audit-log": {"task": "audit.tasks.purge", "schedule": 3600.0},
    "apply-retention": {"task": "privacy.tasks.apply_retention", "schedule": 3600.0},
    "send-case-replies": {"task": "followup.tasks.send_replies", "schedule": 10.0, "options": {"expires": 9}},
    "send-rechecks": {"task": "followup.tasks.send_rechecks", "schedule": 300.0, "options": {"expires": 290}},
    "send-digests": {"task": "followup.tasks.send_digests", "schedule": 300.0, "options": {"expires": 290}},
    "match-themes": {"task": "insights.tasks.match_themes", "schedule": 10.0, "options": {"expires": 9}},
    "learn-tone": {"task": "insights.tasks.learn_tone", "schedule": 86400.0, "options": {"expires": 3600}},
    "roll-up-terms": {"task": "surveys.tasks.roll_up_terms", "schedule": 3600.0, "options": {"expires": 600}},
    "run-autopilot": {
        "task": "delighted_compat.tasks.run_autopilot",
        "schedule": 60.0,
        "options": {"expires": 59},
    },
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Webhooks are only sent to public addresses; these hosts may receive them anyway (development).
WEBHOOK_ALLOWED_HOSTS = env.string_list("WEBHOOK_ALLOWED_HOSTS", [])
# Delivered and failed webhook messages, with their delivery log, are deleted after this long.
WEBHOOK_MESSAGE_RETENTION = timedelta(days=env.integer("WEBHOOK_MESSAGE_RETENTION_DAYS", 30, minimum=1))
# How long what customers said and sent is kept before the retention anonymises it (privacy.retention);
# 0 keeps it for as long as its survey exists. A survey may set its own.
RETENTION_COMMENT_DAYS = env.integer("RETENTION_COMMENT_DAYS", 0)
RETENTION_INVITATION_DAYS = env.integer("RETENTION_INVITATION_DAYS", 365)
RETENTION_EVENT_DAYS = env.integer("RETENTION_EVENT_DAYS", 365)
# Contacts that nothing happened to (changed, invited, answered, reported) for this long are erased.
RETENTION_CONTACT_DAYS = env.integer("RETENTION_CONTACT_DAYS", 0)
# An erased contact's answers keep their comments, with addresses, phone numbers and the contact's
# name masked (privacy.scrub); off: the comments go with the contact.
ERASURE_KEEP_COMMENTS = env.boolean("ERASURE_KEEP_COMMENTS", False)
# The audit log's events are deleted after this long (two years: a year of account plus a margin).
AUDIT_LOG_RETENTION = timedelta(days=env.integer("AUDIT_LOG_RETENTION_DAYS", 730, minimum=30))

# Security. TLS settings follow SITE_URL: a site served over https gets the full set.
_https = _site.scheme == "https"
SECURE_SSL_REDIRECT = _https
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = 31_536_000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
# The header only allows preloading; a domain is preloaded when its owner submits it.
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", _https)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _https else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "surveys.public.csrf_failure"
# How many reverse proxies in front of the app append to X-Forwarded-For; 0 trusts none.
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0)

# Requests per minute from one client (by keyed hash of its address, of its /64 for IPv6) on
# public endpoints.
RATE_LIMITS = {
    "answer": env.integer("RATE_LIMIT_ANSWER", 60, minimum=1),
    # New answers to one link survey: a browser that drops its cookie answers anew each time.
    # Raise it for a link shared inside one office, whose people all answer from one address.
    "link": env.integer("RATE_LIMIT_LINK", 10, minimum=1),
    "unknown_token": env.integer("RATE_LIMIT_UNKNOWN_TOKEN", 20, minimum=1),
    # A widget answer is three requests (texts, score, comment).
    "widget": env.integer("RATE_LIMIT_WIDGET", 60, minimum=1),
    # Per API token; one bulk request carries up to 1,000 events.
    "api": env.integer("RATE_LIMIT_API", 600, minimum=1),
    # Requests for a password reset email.
    "password_reset": env.integer("RATE_LIMIT_PASSWORD_RESET", 5, minimum=1),
    # Test emails of surveys, per back-office user.
    "test_email": env.integer("RATE_LIMIT_TEST_EMAIL", 5, minimum=1),
}

# The widget endpoints are the only cross-origin ones; each survey lists its origins.
CORS_URLS_REGEX = r"^/api/v1/widget/"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_METHODS = ["GET", "OPTIONS", "PATCH", "POST"]
CORS_ALLOW_HEADERS = ["content-type"]
CORS_PREFLIGHT_MAX_AGE = 3600

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": ["surveys.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["surveys.api.renderers.JSONRenderer"],
    # Bearer tokens with read or write scope; public views (the widget) opt out explicitly.
    "DEFAULT_AUTHENTICATION_CLASSES": ["surveys.api.auth.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["surveys.api.auth.TokenScope"],
    "DEFAULT_THROTTLE_CLASSES": ["surveys.api.auth.TokenRateThrottle"],
    "EXCEPTION_HANDLER": "surveys.api.base.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CXSurvey API",
    "DESCRIPTION": (
        "Surveys, touchpoints, events, responses, metrics and more. Send an API token as "
        "`Authorization: Bearer <token>`; read-only tokens may only read (and export). Every error has the "
        'shape `{"error": {"code": …, "message": …, "fields": {…}}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1/",  # each resource its own tag in the docs
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"LanguageEnum": "surveys.models.Language"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "surveys.api.schema.add_error_responses",
        "surveys.api.schema.link_pages_to_their_list",
        "surveys.api.schema.drop_unused_components",
    ],
}

# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; without a token the
# URL does not exist.
METRICS_TOKEN = env.string("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN: must be at least 32 characters long")

# "json" writes each log line as one JSON object (cxsurvey.logs), for log collectors.
LOG_FORMAT = env.choice("LOG_FORMAT", "text", ["text", "json"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "cxsurvey.logs.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"}
        | ({"formatter": "json"} if LOG_FORMAT == "json" else {})
    },
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
# Celery workers replace the root logger's handlers with their own text format unless told not to.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Covering indexes (INCLUDE) speed up dashboards on PostgreSQL; SQLite builds them as
# plain indexes, which is all the embedded default needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
# In development static files come straight from the app folders, re-read on change.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
