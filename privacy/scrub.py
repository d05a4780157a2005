"""What of a person's data may stay on an answer once the person is erased: the rules, as pure
functions over texts and properties (no database), so that they are read and tested in one place.

- A comment is emptied; with ``ERASURE_KEEP_COMMENTS`` it is kept with masks instead: every email
  address becomes "[email]", every phone number "[phone]", the person's external id "[id]", their
  name and each part of it "[name]", and their other property values (of 4 characters or more)
  "[data]".
- An event property stays only if nothing in it is personal: its name does not name personal
  data (``PERSONAL_NAMES``: email, name, phone, address, …), and its value is true, false, null, or
  a text or number that holds no email address or phone number, does not contain the person's
  email, external id or name, nor a part of the name as a word, and does not contain one of their
  property values (values of 4 characters or more; shorter ones only when the value equals them).
- Of the snapshot of the contact's properties only the values of the survey's dashboard
  properties stay, where the event does not set the same property and the value passes the same
  test: they are the segments the tallies count (plan, region), so the dashboards' breakdowns by
  property do not move. For the same reason the values of dashboard properties are never used to
  judge other values.

Deciding wrongly towards "personal" costs a statistic; towards "not personal" it would cost the
person: in doubt a value goes.
"""

import json
import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits with the separators people write numbers with, 7 to 15 digits (E.164), not a date.
PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d ()/.-]{5,}\d(?!\w)")
DATE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")
PHONE_DIGITS = range(7, 16)
# Property values this long or longer are also found inside other texts; shorter ones ("42", "ja")
# would match everywhere, so they count only where a value equals them.
CONTAINED_FROM = 4
# Parts of a property's name that say its value is about a person, whatever the value looks like.
PERSONAL_NAMES = frozenset(
    {
        "email",
        "mail",
        "name",
        "firstname",
        "lastname",
        "surname",
        "vorname",
        "nachname",
        "phone",
        "mobile",
        "tel",
        "telefon",
        "address",
        "adresse",
        "street",
        "strasse",
        "birthday",
        "birthdate",
        "geburtstag",
        "iban",
        "ip",
    }
)
# Words of a name that are also common words: masked in the full name, not on their own.
NAME_PARTICLES = frozenset(
    {"von", "van", "vom", "zu", "zur", "de", "der", "den", "di", "da", "du", "la", "le", "dr", "prof"}
)
MASKS = {"email": "[email]", "phone": "[phone]", "id": "[id]", "name": "[name]", "data": "[data]"}


def text_of(value: object) -> str | None:
    """A property's value as text for comparing; None for true, false and null, which name nobody."""
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _whole(terms: Iterable[str]) -> re.Pattern | None:
    """Any of the terms as a whole word (not inside a longer word), ignoring case; None for none."""
    terms = sorted({term for term in terms if term}, key=len, reverse=True)
    if not terms:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(term)}(?!\w)" for term in terms), re.IGNORECASE)


@lru_cache(maxsize=256)
def _values_pattern(values: frozenset[str]) -> re.Pattern | None:
    return _whole(value for value in values if len(value) >= CONTAINED_FROM)


def _is_phone(match: re.Match) -> bool:
    text = match.group().strip()
    return sum(char.isdigit() for char in text) in PHONE_DIGITS and not DATE.fullmatch(text)


def _personal_name(key: str) -> bool:
    parts = re.split(r"[^a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower())
    return any(part in PERSONAL_NAMES for part in parts) or key.lower() in PERSONAL_NAMES


class Scrubber:
    """The rules above for one person: their email, external id, name and property values."""

    def __init__(self, *, email: str, external_id: str, name: str, properties: Mapping) -> None:
        self.email, self.external_id = email.strip(), external_id.strip()
        self.name = " ".join(name.split())
        words = {word for word in re.split(r"[\s,]+", self.name) if len(word) >= 2}
        words |= {part for word in words for part in word.split("-") if len(part) >= 2}
        # The words of the name that mark it wherever they stand, as whole words.
        self.name_words = sorted(word for word in words if word.casefold() not in NAME_PARTICLES)
        self._name_words = _whole(self.name_words)
        self._identifiers = [text.casefold() for text in (self.email, self.external_id, self.name) if text]
        self._email = _whole([self.email])
        self._external_id = _whole([self.external_id])
        self._full_name = _whole([self.name])
        self.properties = dict(properties)

    def values(self, *snapshots: Mapping, segments: Collection[str] = ()) -> frozenset[str]:
        """The texts of the person's property values (theirs now, and in these snapshots), except
        the values of dashboard properties (``segments``), lower-cased."""
        kept = {
            text_of(value)
            for properties in (self.properties, *snapshots)
            for key, value in properties.items()
            if key not in segments
        }
        segment_values = {
            text_of(properties[key])
            for properties in (self.properties, *snapshots)
            for key in segments
            if key in properties
        }
        return frozenset(text.casefold() for text in kept - segment_values if text)

    def masked(self, comment: str, *, values: frozenset[str]) -> str:
        """The comment with email addresses, phone numbers and the person's identifiers masked."""
        if not comment:
            return comment
        text = comment
        for pattern, mask in (
            (self._email, MASKS["email"]),
            (EMAIL, MASKS["email"]),
            (self._external_id, MASKS["id"]),
            (self._full_name, MASKS["name"]),
        ):
            if pattern is not None:
                text = pattern.sub(mask, text)
        text = PHONE.sub(lambda match: MASKS["phone"] if _is_phone(match) else match.group(), text)
        for pattern, mask in ((self._name_words, MASKS["name"]), (_values_pattern(values), MASKS["data"])):
            if pattern is not None:
                text = pattern.sub(mask, text)
        return text

    def keeps(self, key: str, value: object, *, values: frozenset[str]) -> bool:
        """Whether an event property (``key``: ``value``) may stay on an anonymised answer."""
        if _personal_name(key):
            return False
        text = text_of(value)
        if text is None:
            return True
        folded = text.casefold()
        if EMAIL.search(text) or any(_is_phone(match) for match in PHONE.finditer(text)):
            return False
        if any(identifier in folded for identifier in self._identifiers):
            return False
        if self._name_words is not None and self._name_words.search(text):
            return False
        return not any(
            value_text in folded if len(value_text) >= CONTAINED_FROM else value_text == folded
            for value_text in values
        )

    def answer(
        self, *, comment: str, contact: Mapping, event: Mapping, segments: Collection[str], keep_comment: bool
    ) -> tuple[str, dict, dict]:
        """An answer's comment, contact properties and event properties as they stay."""
        values = self.values(contact, segments=segments)
        kept_event = {key: value for key, value in event.items() if self.keeps(key, value, values=values)}
        kept_contact = {
            key: contact[key]
            for key in segments
            if key in contact
            and key not in event
            and isinstance(contact[key], str)
            and self.keeps(key, contact[key], values=values)
        }
        return (self.masked(comment, values=values) if keep_comment else ""), kept_contact, kept_event
