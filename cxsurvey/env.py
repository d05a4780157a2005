"""Typed readers for settings that come from the environment.

Each reader fails loudly with an ``ImproperlyConfigured`` error that names the
variable, so an operator sees ``DEBUG: expected true or false, got 'maybe'``
instead of a half-configured server.
"""

import os
import pkgutil
from urllib.parse import unquote, urlsplit

import anymail.backends
import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def string(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def boolean(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}")


def integer(name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    return number


def string_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def choice(name: str, default: str, choices: list[str]) -> str:
    value = string(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def http_url(name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    value = string(name, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name}: expected an absolute http(s) URL, got {value!r}")
    return value.rstrip("/")


def database(name: str, default: str) -> dj_database_url.DBConfig:
    value = string(name, default)
    try:
        config = dj_database_url.parse(value)
    except (ValueError, KeyError) as error:
        raise ImproperlyConfigured(f"{name}: cannot read {value!r} ({error})") from None
    if config.get("ENGINE") not in (
        "django.db.backends.sqlite3",
        "django.db.backends.postgresql",
    ):
        raise ImproperlyConfigured(f"{name}: only sqlite:// and postgres:// are supported")
    if config["ENGINE"] == "django.db.backends.postgresql" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}: the URL names no database")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The web server and the dispatch loop write at the same time: take the write lock
        # when a transaction starts, wait for it, and let readers go on beside the writer.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


def replica_database(name: str, primary: dj_database_url.DBConfig) -> dj_database_url.DBConfig | None:
    """The read replica's configuration from ``name``, or None when it is not set.

    Only a PostgreSQL replica of a PostgreSQL primary: SQLite has none. It gives up connecting
    after a few seconds (``connect_timeout`` unless the URL says otherwise), so that an
    unreachable replica sends reads back to the primary instead of holding up the request.
    In tests it reads the primary's test database (Django's test mirror).
    """
    if not string(name):
        return None
    config = database(name, "")
    if {config["ENGINE"], primary.get("ENGINE")} != {"django.db.backends.postgresql"}:
        raise ImproperlyConfigured(f"{name}: a read replica needs PostgreSQL, in DATABASE_URL too")
    config["OPTIONS"] = {"connect_timeout": 3, **config.get("OPTIONS", {})}
    config["TEST"] = {"MIRROR": "default"}
    return config


_EMAIL_SCHEMES = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+ssl": "django.core.mail.backends.smtp.EmailBackend",
}


def email(name: str, default: str) -> dict:
    """Django's EMAIL_* settings from ``smtp://user:pass@host:port`` and friends.

    ``smtp+tls`` uses STARTTLS, ``smtps``/``smtp+ssl`` implicit TLS; ``console://``
    prints mails. User and password are URL-decoded, so ``%40`` may stand for ``@``.
    ``anymail+postmark://`` (or any other provider django-anymail supports) sends
    through that provider's API; its keys come from ``ANYMAIL_*`` variables.
    """
    value = string(name, default)
    if value.lower().startswith("anymail+"):
        return {"EMAIL_BACKEND": _anymail_backend(name, value)}
    parts = urlsplit(value)
    if parts.scheme not in _EMAIL_SCHEMES:
        schemes = ", ".join([*(f"{scheme}://" for scheme in _EMAIL_SCHEMES), "anymail+<provider>://"])
        raise ImproperlyConfigured(f"{name}: expected one of {schemes}, got {value!r}")
    config: dict[str, object] = {"EMAIL_BACKEND": _EMAIL_SCHEMES[parts.scheme]}
    if parts.scheme == "console":
        return config
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name}: the port in {value!r} is not a number") from None
    if not parts.hostname:
        raise ImproperlyConfigured(f"{name}: the URL names no host")
    implicit_tls = parts.scheme in ("smtps", "smtp+ssl")
    config.update(
        EMAIL_HOST=parts.hostname,
        EMAIL_PORT=port or (465 if implicit_tls else 587 if parts.scheme == "smtp+tls" else 25),
        EMAIL_HOST_USER=unquote(parts.username or ""),
        EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
        EMAIL_USE_TLS=parts.scheme == "smtp+tls",
        EMAIL_USE_SSL=implicit_tls,
    )
    return config


# Modules in anymail.backends that are not providers.
_NOT_PROVIDERS = {"base", "base_requests", "console", "test"}


def _anymail_backend(name: str, value: str) -> str:
    """``anymail+amazonses://`` → ``anymail.backends.amazon_ses.EmailBackend``.

    URL schemes cannot hold an underscore, so provider names are matched without
    their underscores (``amazonses``, ``unisendergo``).
    """
    provider, separator, rest = value[len("anymail+") :].partition("://")
    modules = {
        module.name.replace("_", ""): module.name
        for module in pkgutil.iter_modules(anymail.backends.__path__)
        if module.name not in _NOT_PROVIDERS
    }
    module = modules.get(provider.lower().replace("-", "").replace("_", ""))
    if not separator or module is None:
        providers = ", ".join(sorted(modules))
        raise ImproperlyConfigured(
            f"{name}: expected anymail+<provider>:// with one of {providers}, got {value!r}"
        )
    if rest:
        raise ImproperlyConfigured(
            f"{name}: the provider's keys go in ANYMAIL_* variables, not in the URL (got {value!r})"
        )
    return f"anymail.backends.{module}.EmailBackend"


def prefixed(prefix: str) -> dict[str, str | bool]:
    """Every variable named ``<prefix><NAME>`` as ``{NAME: value}``; ``true``/``false`` become booleans.

    Anymail's settings are open-ended (one set per provider), so they are passed on
    by name: ``ANYMAIL_POSTMARK_SERVER_TOKEN`` → ``{"POSTMARK_SERVER_TOKEN": ...}``.
    """
    settings: dict[str, str | bool] = {}
    for variable in sorted(os.environ):
        if variable.startswith(prefix) and len(variable) > len(prefix):
            value = _raw(variable) or ""
            lowered = value.lower()
            settings[variable[len(prefix) :]] = {"true": True, "false": False}.get(lowered, value)
    return settings


def cache(name: str, default: str) -> dict:
    """A Django cache from ``redis://…`` or ``locmem://`` (one process only)."""
    value = string(name, default)
    scheme = urlsplit(value).scheme
    if scheme in ("redis", "rediss"):
        return {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": value,
        }
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(f"{name}: expected redis://, rediss:// or locmem://, got {value!r}")
