"""Surveys, touchpoints, contacts, events, invitations, responses, their tallies, tokens, and
the suppression list.

Personal data starts in ``Contact`` (email, name, external id, properties, and the history of
its legal basis in ``ConsentRecord``) and ``Response`` (comment, the property snapshot, and the
identity that an unsigned public answer claimed), and is copied from there into events,
invitations and other apps' rows. ``privacy.places`` lists every place; the erasure and the
access export both read that list.

Every model is importable from here, as the migrations and the other apps import them.
"""

from surveys.models.contact import (
    CONSENT_CLOCK_DIFFERENCE,
    CONSENT_TEXT_MAX_LENGTH,
    Consent,
    ConsentRecord,
    ConsentSource,
    Contact,
    ContactQuerySet,
    LegalBasis,
    LegalBasisStated,
)
from surveys.models.invitation import Event, EventSource, Invitation, InvitationStatus, SkipReason
from surveys.models.labels import PropertyLabel, PropertyLabelQuerySet
from surveys.models.legal import LegalFooter, LegalInformation, host_of, validate_web_url
from surveys.models.response import NO_TOUCHPOINT, Response, ResponseChannel, ResponseQuerySet
from surveys.models.suppression import Suppression
from surveys.models.survey import (
    Language,
    Survey,
    SurveyQuerySet,
    Touchpoint,
    normalise_origin,
    validate_origins,
)
from surveys.models.tallies import (
    DailyScore,
    Drift,
    PropertyScore,
    TallyZone,
    Term,
    TermMonth,
    TermTally,
    rebuild_tallies,
    sync_tally_zone,
    tally_drift,
)
from surveys.models.team import Team
from surveys.models.tokens import (
    TOKEN_PREFIX,
    ApiToken,
    IdempotentRequest,
    digest_token,
    is_token_shaped,
    new_identity_secret,
    new_public_key,
    new_token,
)

# Named by migration 0005 as a field's validator; it lives with the other property rules.
from surveys.properties import validate_dashboard_properties

__all__ = [
    "CONSENT_CLOCK_DIFFERENCE",
    "CONSENT_TEXT_MAX_LENGTH",
    "NO_TOUCHPOINT",
    "TOKEN_PREFIX",
    "ApiToken",
    "Consent",
    "ConsentRecord",
    "ConsentSource",
    "Contact",
    "ContactQuerySet",
    "DailyScore",
    "Drift",
    "Event",
    "EventSource",
    "IdempotentRequest",
    "Invitation",
    "InvitationStatus",
    "Language",
    "LegalBasis",
    "LegalBasisStated",
    "LegalFooter",
    "LegalInformation",
    "PropertyLabel",
    "PropertyLabelQuerySet",
    "PropertyScore",
    "Response",
    "ResponseChannel",
    "ResponseQuerySet",
    "SkipReason",
    "Suppression",
    "Survey",
    "SurveyQuerySet",
    "TallyZone",
    "Team",
    "Term",
    "TermMonth",
    "TermTally",
    "Touchpoint",
    "digest_token",
    "host_of",
    "is_token_shaped",
    "new_identity_secret",
    "new_public_key",
    "new_token",
    "normalise_origin",
    "rebuild_tallies",
    "sync_tally_zone",
    "tally_drift",
    "validate_dashboard_properties",
    "validate_origins",
    "validate_web_url",
]
