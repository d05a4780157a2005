"""The right of access and to data portability (Art. 15 and 20 GDPR): everything the installation
holds about a person, from every place of ``privacy.places``, as one JSON document (for the person,
or another system) and as a page to read. Each export is recorded in the audit log, with the
contact's id and how many rows of each place it held."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.utils import formats, timezone
from django.utils.translation import gettext

from audit.log import Action, record
from privacy.places import PLACES, Person, Place

FORMAT = "cxsurvey.personal-data.v1"
# The document's times: ISO 8601 with the offset.
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")


def exported() -> list[Place]:
    """The places that the access export shows: the contact first, the others in their order."""
    shown = [place for place in PLACES if place.headings() is not None]
    return sorted(shown, key=lambda place: not place.single)


def personal_data(person: Person) -> dict:
    """The document: when it was made, then each place that the access export shows (the
    contact as one object, the others as lists, oldest first)."""
    document: dict = {"format": FORMAT, "generated_at": timezone.localtime().isoformat()}
    for place in exported():
        rows = place.export(person)
        document[place.name] = (rows[0] if rows else None) if place.single else rows
    return document


def record_access_export(person: Person, document: dict, *, form: str) -> None:
    """Note in the audit log that the person's data was handed out (``form``: "json" or "html")."""
    record(
        Action.ACCESS_EXPORTED,
        object_type="surveys.contact",
        object_id=str(person.contact_id or ""),
        details={
            "form": form,
            "counts": {
                place.name: len(rows)
                for place in PLACES
                if isinstance(rows := document.get(place.name), list)
            },
        },
    )


@dataclass(frozen=True)
class Section:
    """One place of the document as the page shows it: its heading, its columns and its rows."""

    place: Place
    headings: list[tuple[str, str]]
    rows: list[list[object]]


def sections(document: dict) -> list[Section]:
    """The document's places as tables, in the document's order; the contact as one row."""
    tables = []
    for place in exported():
        headings = place.headings() or ()
        found = document.get(place.name)
        rows = ([found] if found else []) if place.single else (found or [])
        tables.append(
            Section(
                place=place,
                headings=[(key, str(label)) for key, label in headings],
                rows=[
                    [_shown(row.get(key), place.labels.get(key)) for key, _label in headings] for row in rows
                ],
            )
        )
    return tables


def _shown(value: object, labels: dict | None = None) -> str:
    """A value of the document as text on the page: a code by its label, a time in the local
    format, properties one per line, nothing as a dash."""
    if value is None or value == "" or value == {}:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, dict):
        return "\n".join(f"{key}: {_shown(item)}" for key, item in value.items())
    if labels is not None and value in labels:
        return str(labels[value])
    if isinstance(value, str) and TIME.fullmatch(value):
        moment = timezone.localtime(datetime.fromisoformat(value))
        return formats.date_format(moment, "DATETIME_FORMAT")
    return str(value)
