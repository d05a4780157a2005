"""Who may see and do what: the rules that every page, API endpoint, export and webhook asks.

Two questions, always both: may this person do this (the back office's permissions, which the
roles of ``surveys.roles`` bundle), and to this survey (their teams: ``Survey.objects.visible_to``)?
Django grants permissions to active users only, so an inactive user may do nothing here. A
survey a user may not see is answered as if it did not exist (404), never with a 403 that
would confirm it.
"""

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import Http404
from django.utils.crypto import salted_hmac

from surveys import roles
from surveys.models import Survey, SurveyQuerySet

AnyUser = AbstractUser | AnonymousUser


def may_read_responses(user: AnyUser) -> bool:
    """Whether a user may read answers: scores, comments and the properties they carry."""
    return user.has_perm("surveys.view_response")


def may_read_feedback(user: AnyUser) -> bool:
    """Whether a signed-in user may use the feedback pages (dashboards, comments): active staff who
    may read answers."""
    return user.is_active and user.is_staff and may_read_responses(user)


def may_export(user: AnyUser) -> bool:
    """Whether a user may take answers out as files (the explorer's downloads, the exports API)."""
    return user.has_perm("surveys.export_response")


def may_see_personal_data(user: AnyUser) -> bool:
    """Whether a user may also see who answered or was asked (email, name, external id, the event's
    properties), in pages, exports, the API and webhooks; without it, a pseudonym stands in."""
    return user.has_perm("surveys.view_contact")


def is_admin(user: AnyUser) -> bool:
    """Whether a user may do everything to everything: a superuser, or an active member of Admin.

    Asked once per user object, like Django's permissions: a page asks it for each part it shows."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    if (member := getattr(user, "_is_admin", None)) is None:
        member = user._is_admin = user.groups.filter(name=roles.ADMIN).exists()  # type: ignore[attr-defined]
    return member


def pseudonym(contact_id: int | None) -> str:
    """Who answered, for readers who may not see personal data: the same contact always gets the same
    20 hex digits, which cannot be turned back into the contact without the secret key. Empty for
    answers without a contact."""
    if contact_id is None:
        return ""
    # The salt keeps its first home's name: another one would change every pseudonym handed out.
    return salted_hmac("feedback.exports.contact", str(contact_id)).hexdigest()[:20]


def visible_surveys(user: AnyUser) -> SurveyQuerySet:
    """The surveys this user may see and act on (``Survey.objects.visible_to``)."""
    return Survey.objects.visible_to(user)


def get_survey_for_user(user: AnyUser, pk: object) -> Survey:
    """The survey with this id if the user may see it; Http404 for an unknown, malformed or foreign
    id alike."""
    return get_survey_among(visible_surveys(user), pk)


def get_survey_among(surveys: SurveyQuerySet, pk: object) -> Survey:
    """The survey with this id among these; Http404 for any other id, malformed ones included."""
    digits = str(pk)
    survey = surveys.filter(pk=int(digits)).first() if digits.isdigit() and len(digits) < 19 else None
    if survey is None:
        raise Http404("No survey has this id.")
    return survey
