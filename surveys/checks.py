"""System checks (``manage.py check``) that read the installation's data.

An installation that asks its customers without a privacy notice or an Impressum to link to
breaks German law on every page and email; ``check`` (and so ``check --deploy``) says so. Only
in production (``DEBUG`` off) and only once surveys are active: a development database with demo
surveys, and a database that is not there or not migrated yet, are nobody's legal problem.
"""

import logging

from django.conf import settings
from django.core import checks
from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

NO_PRIVACY_NOTICE = "surveys.W001"
NO_IMPRESSUM = "surveys.W002"
HINT = "An Admin fills in the back office's Legal information (Surveys → Legal information)."


@checks.register("legal")
def check_legal_information(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A warning for each missing link (in both languages) while active surveys exist."""
    if settings.DEBUG:
        return []
    from surveys.models import LegalInformation, Survey

    try:
        # A savepoint when called inside a transaction: a missing table must not break it.
        with transaction.atomic():
            if not Survey.objects.filter(active=True).exists():
                return []
            legal = LegalInformation.objects.current()
    except DatabaseError:  # no database yet, or not migrated: nothing is sent from it either
        logger.debug("The legal information could not be read for the system check", exc_info=True)
        return []
    warnings: list[checks.CheckMessage] = []
    if not legal.has_privacy_notice():
        warnings.append(
            checks.Warning(
                "Surveys are active, but no privacy notice URL is set: respondent pages, the widget "
                "and emails link to none.",
                hint=HINT,
                id=NO_PRIVACY_NOTICE,
            )
        )
    if not legal.has_impressum():
        warnings.append(
            checks.Warning(
                "Surveys are active, but no Impressum URL is set: respondent pages, the widget and "
                "emails link to none.",
                hint=HINT,
                id=NO_IMPRESSUM,
            )
        )
    return warnings
