"""Tags on answers: added by a person on the answer's page or by an alert rule, removed by a person.

A tag is found by its name whatever its case ("lieferung" is the tag "Lieferung"); a name not yet
known becomes a new tag only where the caller may create tags. A change shows on the answer's
follow-up case, if it has one, as a line of its timeline.
"""

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from followup.models import NAME_MAX_LENGTH, AlertRule, Case, CaseEntry, ResponseTag, Tag
from surveys.models import Response


class TagRefused(ValueError):
    """Tags that cannot be added; the message says why, for the person who asked."""


def clean_tag_name(name: str) -> str:
    """The name trimmed, its inner runs of spaces made one; TagRefused if it is empty or too long."""
    cleaned = " ".join(name.split())
    if not cleaned:
        raise TagRefused(_("Give the tag a name."))
    if len(cleaned) > NAME_MAX_LENGTH:
        raise TagRefused(
            _("A tag's name can be at most %(limit)d characters long.") % {"limit": NAME_MAX_LENGTH}
        )
    return cleaned


def tags_named(names: Sequence[str]) -> list[Tag]:
    """The known tags of these names, any case, in one query; TagRefused naming the first name no tag
    has. Empty names are left out."""
    wanted = {" ".join(name.split()).lower(): " ".join(name.split()) for name in names}
    wanted.pop("", None)
    if not wanted:
        return []
    # No name holds a NUL character, and PostgreSQL refuses to compare one: it is unknown, not an error.
    if unknown := [name for name in wanted.values() if "\x00" in name]:
        raise TagRefused(_("There is no tag named “%(name)s”.") % {"name": unknown[0]})
    condition = Q()
    for name in wanted.values():
        condition |= Q(name__iexact=name)
    found = list(Tag.objects.filter(condition))
    known = {tag.name.lower() for tag in found}
    if unknown := [name for key, name in wanted.items() if key not in known]:
        raise TagRefused(_("There is no tag named “%(name)s”.") % {"name": unknown[0]})
    return found


def find_tags(names: Sequence[str], *, create: bool) -> list[Tag]:
    """The tags of these names (cleaned, any case), in the order given without repeats; those not
    yet known created if ``create``, else TagRefused naming the first unknown one."""
    tags: dict[int, Tag] = {}
    for name in map(clean_tag_name, names):
        tag = Tag.objects.filter(name__iexact=name).first()
        if tag is None and not create:
            raise TagRefused(_("There is no tag named “%(name)s”.") % {"name": name})
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(name=name)
            except IntegrityError:  # created meanwhile, by someone else or in another case
                tag = Tag.objects.get(name__iexact=name)
        tags[tag.pk] = tag
    return list(tags.values())


def tag_response(
    *,
    response: Response,
    names: Sequence[str],
    by: User | None,
    now: datetime,
    rule: AlertRule | None = None,
    create: bool = False,
) -> list[Tag]:
    """Put the named tags on the answer; returns those it did not carry yet.

    ``create`` lets names not yet known become tags (the caller checks ``followup.add_tag``).
    Raises TagRefused, adding nothing, if a name is empty, too long or unknown without ``create``.
    A tag the answer already carries stays as it was set, by whom and when."""
    with transaction.atomic():
        tags = find_tags(names, create=create)
        carried = set(
            ResponseTag.objects.filter(response=response, tag__in=tags).values_list("tag_id", flat=True)
        )
        added = [tag for tag in tags if tag.pk not in carried]
        # A concurrent request adding the same tag makes its row first: ours is then left out.
        ResponseTag.objects.bulk_create(
            [
                ResponseTag(response=response, tag=tag, rule=rule, added_by=by, created_at=now)
                for tag in added
            ],
            ignore_conflicts=True,
        )
        if added:
            _note_on_case(response, {"added": [tag.name for tag in added]}, by=by, now=now)
    return added


def untag_response(*, response: Response, tags: Sequence[Tag], by: User | None, now: datetime) -> list[Tag]:
    """Take these tags off the answer; returns those it carried. Tags it does not carry are no error:
    someone else may have taken them off a moment before."""
    with transaction.atomic():
        carried = ResponseTag.objects.filter(response=response, tag__in=tags)
        carried_ids = set(carried.values_list("tag_id", flat=True))
        removed = [tag for tag in tags if tag.pk in carried_ids]
        carried.delete()
        if removed:
            _note_on_case(response, {"removed": [tag.name for tag in removed]}, by=by, now=now)
    return removed


def _note_on_case(response: Response, details: dict, *, by: User | None, now: datetime) -> None:
    """A line on the answer's case, if it has one, saying which tags changed."""
    case = Case.objects.filter(response=response).only("pk").first()
    if case is not None:
        CaseEntry.objects.create(
            case=case, kind=CaseEntry.Kind.TAGGED, author=by, details=details, created_at=now
        )
