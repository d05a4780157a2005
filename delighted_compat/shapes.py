"""Delighted's objects as its API and webhooks wrote them, read from CXSurvey's models.

Ids are strings and times whole Unix seconds, as Delighted sent them. A person is a contact, a
survey response an answer of the project's survey; their notes are the notes of the answer's
follow-up case, their tags its tags. What a reader may not see (who answered, without the
permission to view contacts; notes, without the permission to view cases) is left out, as the
rest of CXSurvey leaves it out.
"""

from datetime import UTC, datetime

from django.db.models import Max, Min, OuterRef, Prefetch, QuerySet, Subquery
from django.http import HttpRequest
from django.urls import reverse

from followup.models import CaseEntry, ResponseTag
from surveys.access import may_see_personal_data
from surveys.models import Contact, Invitation, Response


def unix(moment: datetime | None) -> int | None:
    """Whole seconds since 1970, as Delighted wrote every time; None stays None."""
    return None if moment is None else int(moment.timestamp())


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def people(contacts: QuerySet[Contact], *, survey_id: int) -> QuerySet[Contact]:
    """Contacts with what Delighted told of a person in a project: when they were last sent a
    survey and last answered one, and when the next is due; one query with the contacts."""
    invitations = Invitation.objects.filter(contact=OuterRef("pk"), survey_id=survey_id).order_by()
    answers = Response.objects.filter(contact=OuterRef("pk"), survey_id=survey_id).order_by()
    return contacts.annotate(
        last_sent_at=Subquery(invitations.values("contact").annotate(last=Max("sent_at")).values("last")[:1]),
        last_responded_at=Subquery(
            answers.values("contact").annotate(last=Max("created_at")).values("last")[:1]
        ),
        next_survey_scheduled_at=Subquery(
            invitations.filter(status=Invitation.Status.SCHEDULED)
            .values("contact")
            .annotate(next=Min("scheduled_for"))
            .values("next")[:1]
        ),
    )


def person(contact: Contact, *, personal: bool = True) -> dict:
    """A person; a contact from ``people()`` brings its survey dates. ``personal=False``: the id
    and dates only."""
    shape: dict = {"id": str(contact.pk)}
    if personal:
        shape |= {"email": contact.email or None, "name": contact.name or None, "phone_number": None}
    shape["created_at"] = unix(contact.created_at)
    for moment in ("last_sent_at", "last_responded_at", "next_survey_scheduled_at"):
        if hasattr(contact, moment):
            shape[moment] = unix(getattr(contact, moment))
    return shape


def survey_responses(responses: QuerySet[Response], *, user, expand: frozenset[str] = frozenset()):
    """Answers with what their Delighted shape needs, read in a fixed number of queries."""
    responses = responses.select_related("contact").prefetch_related(
        Prefetch("taggings", queryset=ResponseTag.objects.select_related("tag").order_by("tag__name"))
    )
    if user.has_perm("followup.view_case"):
        notes = CaseEntry.objects.filter(kind=CaseEntry.Kind.NOTE).order_by("created_at", "pk")
        if "notes" in expand:
            notes = notes.select_related("author")
        responses = responses.prefetch_related(
            "case", Prefetch("case__entries", queryset=notes, to_attr="notes")
        )
    return responses


def site_of(request: HttpRequest) -> str:
    """The scheme and host the request came to, which its permalinks start with."""
    return f"{request.scheme}://{request.get_host()}"


def survey_response(
    response: Response,
    *,
    user,
    site: str,
    expand: frozenset[str] = frozenset(),
    personal: bool = True,
    comment: bool = True,
) -> dict:
    """One answer as Delighted's survey response, from ``survey_responses()``, as ``user`` may
    see it; ``site`` (``site_of(request)``, or ``settings.SITE_URL`` without a request) starts
    its permalink. ``expand``: "person" for the person instead of their id, "notes" for the
    notes instead of their ids. ``personal=False`` leaves out who answered (but their id) even
    if the user may see it, ``comment=False`` the comment (null)."""
    personal = personal and may_see_personal_data(user)
    contact = response.contact
    who: dict | str | None
    if contact is None:
        who = None
    elif "person" in expand:
        who = person(contact, personal=personal)
    else:
        who = str(contact.pk)
    properties = {**response.contact_properties, **response.event_properties} if personal else {}
    return {
        "id": str(response.pk),
        "person": who,
        "survey_type": response.kind,
        "score": response.score,
        "comment": (response.comment or None) if comment else None,
        "permalink": site + reverse("feedback:response", args=[response.public_id]),
        "created_at": unix(response.created_at),
        "updated_at": unix(response.updated_at),
        "person_properties": properties or None,
        "notes": _notes(response, expand=expand) if user.has_perm("followup.view_case") else [],
        "tags": [tagging.tag.name for tagging in response.taggings.all()],
        "additional_answers": [],
    }


def _notes(response: Response, *, expand: frozenset[str]) -> list:
    case = getattr(response, "case", None)  # prefetched by survey_responses(), with its notes
    entries = case.notes if case is not None else []
    if "notes" not in expand:
        return [str(entry.pk) for entry in entries]
    return [
        {
            "id": str(entry.pk),
            "text": entry.text,
            "user_email": entry.author.email if entry.author else None,
            "created_at": unix(entry.created_at),
        }
        for entry in entries
    ]
