"""Delighted-format exports for the importer's tests, written as Delighted's dashboard wrote them:
one row per response, one column per person property."""

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HEADER = [
    "Response ID",
    "Response timestamp",
    "Updated timestamp",
    "Score",
    "Comment",
    "Tags",
    "Notes",
    "Person ID",
    "Name",
    "Email",
    "Phone number",
    "Permalink",
    "Survey type",
    "plan",
    "Region",
    "locale",
]
COMMENTS = [
    "",
    "Schnelle Lieferung, gerne wieder!",
    "Die Größe passte nicht,\nder Umtausch war mühsam.",
    'Sehr gut, "top" Service; würde es empfehlen',
    "",
    "Too expensive, but the support was great.",
    "Überhaupt nicht zufrieden: Ware beschädigt,\r\nkein Rückruf.",
    "ok",
]
TAGS = ["Lieferung", "Preis", "Rückruf", "Qualität"]
NOTES = ["Kunde angerufen", "Gutschein geschickt", "Bitte prüfen, ob erledigt"]
REGIONS = ["Nord", "Süd", "West"]
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass
class ExportRow:
    response_id: str
    created_at: datetime
    updated_at: datetime
    score: int
    comment: str
    tags: list[str]
    notes: list[str]
    name: str
    email: str
    properties: dict[str, str] = field(default_factory=dict)


def make_rows(count: int = 60, *, seed: int = 7, start: datetime | None = None) -> list[ExportRow]:
    """``count`` responses of 20 people over four months, some with tags, notes and properties."""
    rng = random.Random(seed)
    start = start or datetime(2025, 1, 3, 8, 0, tzinfo=UTC)
    rows = []
    for number in range(count):
        created = start + timedelta(hours=rng.randrange(0, 24 * 118), seconds=rng.randrange(60))
        person = rng.randrange(20)
        properties = {"plan": rng.choice(["pro", "basic", ""]), "Region": rng.choice(REGIONS), "locale": ""}
        properties["locale"] = rng.choice(["de", "en", "de-AT", ""])
        rows.append(
            ExportRow(
                response_id=str(100_000 + number),
                created_at=created,
                updated_at=created + timedelta(minutes=rng.choice([0, 0, 5, 90])),
                score=rng.randrange(11),
                comment=rng.choice(COMMENTS),
                tags=rng.sample(TAGS, rng.choice([0, 0, 1, 2])),
                notes=rng.sample(NOTES, rng.choice([0, 0, 0, 1, 2])),
                name=f"Jürgen Müller {person}",
                email=f"Kunde{person}@Example.de",
                properties={name: value for name, value in properties.items() if value},
            )
        )
    return rows


def _time(moment: datetime, style: int) -> str:
    """The styles Delighted's exports and the spreadsheets they passed through wrote times in."""
    if style == 0:
        return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S %z")
    if style == 1:
        return moment.isoformat()
    if style == 2:
        return str(int(moment.timestamp()))
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_export(rows: list[ExportRow]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for number, row in enumerate(rows):
        writer.writerow(
            [
                row.response_id,
                _time(row.created_at, number % 4),
                _time(row.updated_at, (number + 1) % 4),
                row.score,
                row.comment,
                ", ".join(row.tags),
                "\n".join(row.notes),
                f"p{row.email}",
                row.name,
                row.email,
                "+49 30 1234567",
                f"https://delighted.com/r/{row.response_id}",
                "nps",
                row.properties.get("plan", ""),
                row.properties.get("Region", ""),
                row.properties.get("locale", ""),
            ]
        )
    return out.getvalue().encode()


def csv_bytes(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()
