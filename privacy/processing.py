"""The record of processing (Art. 30 GDPR) as CXSurvey can state it: what personal data it stores,
where, why, for how long and who receives it, read from the installation's configuration and data
each time it is shown, so that it cannot go stale.

It covers what the software does; the company adds what it alone knows (its data protection
officer, its other systems) to its own record.
"""

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from feedback.exports import EXPORT_LIFETIME
from privacy.retention import KINDS
from surveys.api.idempotency import KEY_LIFETIME
from surveys.models import Contact, LegalBasis, LegalFooter, LegalInformation, Survey
from webhooks.models import Subscription

PROPERTY_SAMPLE = 10_000  # the newest contacts whose property names the record lists


@dataclass(frozen=True)
class Row:
    """One line of a table of the record: a subject and what is said about it."""

    name: str
    text: str


@dataclass(frozen=True)
class Processing:
    controller: LegalFooter
    data: list[Row]  # kinds of personal data and where they are kept
    purposes: list[Row]
    legal_bases: list[Row]
    retention: list[Row]
    survey_retention: list[tuple[Survey, list[str]]]  # surveys that set their own periods
    stores: list[Row]
    recipients: list[Row]
    measures: list[Row]


def record_of_processing(*, language: str) -> Processing:
    return Processing(
        controller=LegalInformation.objects.current().footer(language),
        data=_data(),
        purposes=_purposes(),
        legal_bases=_legal_bases(),
        retention=_retention(),
        survey_retention=_survey_retention(),
        stores=_stores(),
        recipients=_recipients(),
        measures=_measures(),
    )


def period(days: int) -> str:
    return (
        _("as long as the survey exists")
        if not days
        else ngettext("%(n)d day", "%(n)d days", days) % {"n": days}
    )


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours % 24:
        return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}
    return period(hours // 24)


def _data() -> list[Row]:
    names = _property_names()
    properties = ", ".join(names) if names else _("none so far")
    return [
        Row(
            _("Customers (contacts)"),
            _(
                "Email address, name, external id (the customer number of the company's systems), "
                "language, legal basis with the consent's wording and time, unsubscriptions, bounces and "
                "spam complaints, and the properties the company's systems send (in use: %(properties)s)."
            )
            % {"properties": properties},
        ),
        Row(
            _("Answers"),
            _(
                "Score, comment, time, language, channel, the touchpoint and the properties of the contact "
                "and the event at the time of answering; answers by public link or widget may be anonymous."
            ),
        ),
        Row(
            _("Invitations and events"),
            _(
                "Which customer was asked after which touchpoint and event, when the email was sent, "
                "delivered, opened and answered, the event's properties, the email's message ids and "
                "delivery errors."
            ),
        ),
        Row(
            _("Staff"),
            _(
                "User name, name, email address, roles and teams, password hash, second factor, sign-ins and "
                "failed sign-ins, and the audit log of what each did (the client as a keyed hash only)."
            ),
        ),
        Row(
            _("Exports and webhook messages"),
            _(
                "Files of answers prepared for download, and messages to the receivers of webhooks, with "
                "personal data where their owner may see it and chose it."
            ),
        ),
    ]


def _property_names() -> list[str]:
    """The names of the contact properties of the newest contacts (values are never listed)."""
    newest = Contact.objects.order_by("-updated_at").values_list("properties", flat=True)[:PROPERTY_SAMPLE]
    return sorted({name for properties in newest if isinstance(properties, dict) for name in properties})


def _purposes() -> list[Row]:
    return [
        Row(
            _("Measuring satisfaction"),
            _(
                "Asking customers after touchpoints (NPS, CSAT, CES) and reporting the results to the "
                "company."
            ),
        ),
        Row(
            _("Improving products and service"),
            _(
                "Reading and exporting comments; with pseudonyms instead of names for users who may not "
                "see who answered."
            ),
        ),
        Row(
            _("Keeping the rules of asking"),
            _("Not asking again too soon, never asking who unsubscribed, bounced or complained."),
        ),
        Row(_("Security and accountability"), _("Sign-ins, the audit log and rate limits.")),
    ]


def _legal_bases() -> list[Row]:
    counts = dict(
        Contact.objects.values_list("legal_basis").annotate(n=Count("pk")).values_list("legal_basis", "n")
    )
    return [Row(str(label), str(counts.get(value, 0))) for value, label in LegalBasis.choices]


def _retention() -> list[Row]:
    rows = [Row(str(kind.label).capitalize(), period(getattr(settings, kind.setting))) for kind in KINDS]
    return [
        *rows,
        Row(
            _("Contacts and their answers"),
            _("erased after %(period)s without activity; the answers' scores stay without the person")
            % {"period": period(settings.RETENTION_CONTACT_DAYS)}
            if settings.RETENTION_CONTACT_DAYS
            else _("until erased; the answers' scores stay without the person"),
        ),
        Row(_("Webhook messages and their delivery log"), _duration(settings.WEBHOOK_MESSAGE_RETENTION)),
        Row(_("Prepared export files"), _duration(EXPORT_LIFETIME)),
        Row(_("Idempotency records of the API"), _duration(KEY_LIFETIME)),
        Row(_("Audit log"), _duration(settings.AUDIT_LOG_RETENTION)),
    ]


def _survey_retention() -> list[tuple[Survey, list[str]]]:
    own = Q()
    for kind in KINDS:
        own |= Q(**{f"{kind.survey_field}__isnull": False})
    return [
        (survey, [period(kind.days(survey)) for kind in KINDS])
        for survey in Survey.objects.filter(own).order_by("name")
    ]


def _stores() -> list[Row]:
    rows = [Row(_("Database"), _database("default"))]
    if "replica" in connections.databases:
        rows.append(Row(_("Read replica of the database"), _database("replica")))
    rows.append(Row(_("Files"), _("Prepared exports under %(path)s") % {"path": settings.MEDIA_ROOT}))
    cache = settings.CACHES["default"]
    if "redis" in cache["BACKEND"].lower():
        rows.append(
            Row(
                _("Cache"),
                _("Redis at %(host)s: rate-limit counters by keyed hash of the address")
                % {"host": _host(cache["LOCATION"])},
            )
        )
    if broker := getattr(settings, "CELERY_BROKER_URL", ""):
        rows.append(
            Row(
                _("Task queue"),
                _("%(host)s: ids of invitations, messages and exports to work on") % {"host": _host(broker)},
            )
        )
    return rows


def _database(alias: str) -> str:
    database = connections.databases[alias]
    if database["ENGINE"].endswith("sqlite3"):
        return _("SQLite file %(name)s") % {"name": database["NAME"]}
    return _("PostgreSQL at %(host)s, database %(name)s") % {
        "host": f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}",
        "name": database["NAME"],
    }


def _host(url: str) -> str:
    """A service's host and port, never its password."""
    parts = urlsplit(str(url))
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _recipients() -> list[Row]:
    rows = [_mail()]
    for subscription in Subscription.objects.filter(active=True).select_related("owner").order_by("url"):
        what = [_("answers, bounces and unsubscriptions as chosen")]
        if subscription.include_personal_data:
            what.append(_("with the customer's email address, name and external id"))
        if subscription.include_comments:
            what.append(_("with comments"))
        rows.append(
            Row(
                _("Webhook receiver %(host)s") % {"host": urlsplit(subscription.url).hostname},
                _("%(what)s; set up by %(owner)s")
                % {"what": ", ".join(what), "owner": subscription.owner.get_username()},
            )
        )
    return rows


def _mail() -> Row:
    backend = settings.EMAIL_BACKEND
    if backend.startswith("anymail.backends."):
        provider = backend.split(".")[2]
        tracking = settings.ANYMAIL.get("WEBHOOK_SECRET")
        text = _(
            "The email provider %(provider)s receives each invitation: the customer's email address "
            "and name and the email."
        ) % {"provider": provider}
        if tracking:
            text += " " + _("It reports deliveries, opens, bounces and complaints back.")
        return Row(_("Email provider"), text)
    if backend.endswith("smtp.EmailBackend"):
        return Row(
            _("Mail server"),
            _("%(host)s receives each invitation: the customer's email address and name and the email.")
            % {"host": f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"},
        )
    return Row(_("Email"), _("No email leaves the server: it is written to its log (development)."))


def _measures() -> list[Row]:
    https = settings.SITE_URL.startswith("https://")
    return [
        Row(_("Encryption in transit"), _("https with HSTS") if https else _("none: SITE_URL is not https")),
        Row(
            _("Second factor"),
            {
                "off": _("optional for everyone"),
                "superusers": _("required for superusers"),
                "staff": _("required for all staff"),
            }.get(settings.REQUIRE_2FA, settings.REQUIRE_2FA),
        ),
        Row(
            _("Sessions"),
            ngettext(
                "end after %(n)d minute without a request",
                "end after %(n)d minutes without a request",
                settings.SESSION_IDLE_MINUTES,
            )
            % {"n": settings.SESSION_IDLE_MINUTES},
        ),
        Row(_("Access"), _("roles and teams; users who may not see personal data see pseudonyms")),
        Row(
            _("Accountability"),
            _(
                "an append-only audit log of sign-ins, exports, reads of personal data through the API "
                "and changes"
            ),
        ),
    ]
