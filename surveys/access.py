"""Who may see what: the rules that every page, API endpoint, export and webhook asks, in one place.

They read the back office's permissions (``surveys.view_response``, ``surveys.view_contact``),
which Django grants to active users only, so an inactive user may do nothing here.
"""

from django.contrib.auth.models import AbstractUser, AnonymousUser

User = AbstractUser | AnonymousUser


def may_read_responses(user: User) -> bool:
    """Whether a user may read answers: scores, comments and the properties they carry."""
    return user.has_perm("surveys.view_response")


def may_read_feedback(user: User) -> bool:
    """Whether a signed-in user may use the feedback pages (dashboards, comments, exports): active
    staff who may read answers."""
    return user.is_active and user.is_staff and may_read_responses(user)


def may_see_personal_data(user: User) -> bool:
    """Whether a user may also see who answered or was asked (email, name, external id, the event's
    properties), in pages, exports, the API and webhooks; without it, a pseudonym stands in."""
    return user.has_perm("surveys.view_contact")
