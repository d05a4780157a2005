"""Contact and event properties: their names, values, limits and messages, in one place.

Properties are open-ended (``plan``, ``region``, ``order_id``): contacts carry them, events,
links and the widget bring them, and every response keeps a snapshot of both. They are
checked where they come in (the events API, the widget, links, contact uploads), counted per
value for the dashboards (``Survey.dashboard_properties``) and filtered by as
``property.<name>=<value>`` in the dashboards, the explorer, exports and the API.

A property's value as the dashboards count it is the event's if the event has the property,
else the contact's, and only text of 1 to PROPERTY_VALUE_MAX_LENGTH characters counts: the
events API also takes numbers, true, false and null, which form no group.
"""

import json
import math
import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_PROPERTIES = 50
PROPERTY_VALUE_MAX_LENGTH = 500
MAX_DASHBOARD_PROPERTIES = 10
PROPERTY_PREFIX = "property."  # of a filter's URL parameter: property.plan=pro
MAX_PROPERTY_FILTERS = 5
# JSON numbers beyond 64 bits are almost certainly mistakes (ids sent as numbers lose digits).
MAX_INTEGER = 2**63
# PostgreSQL cannot store U+0000, and a lone surrogate cannot be encoded as UTF-8.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def printable(name: str) -> str:
    """A name sent by a client, fit to be echoed in an answer that may be stored as jsonb.

    PostgreSQL's jsonb refuses U+0000 and lone surrogates, so those are spelled out.
    """
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in name[:64])


def name_problem(name: str) -> str | None:
    """What is wrong with a property's name, or None."""
    if PROPERTY_NAME.fullmatch(name):
        return None
    return _("“%(name)s” is not a valid property name (letters, digits, _ . - up to 64).") % {
        "name": printable(name)
    }


def value_problem(name: str, value: object, *, as_text: bool = False) -> str | None:
    """What is wrong with a property's value, or None.

    Text up to PROPERTY_VALUE_MAX_LENGTH characters, a number, true, false or null; with
    ``as_text`` (links and the widget, whose values are always counted as text) text only.
    """
    if isinstance(value, str):
        if len(value) > PROPERTY_VALUE_MAX_LENGTH:
            return _("The value of property “%(name)s” is longer than %(limit)d characters.") % {
                "name": name,
                "limit": PROPERTY_VALUE_MAX_LENGTH,
            }
        if UNSTORABLE.search(value):
            return _(
                "The value of property “%(name)s” contains a NUL or an unpaired surrogate character."
            ) % {"name": name}
        return None
    if as_text:
        return _("The value of property “%(name)s” must be text.") % {"name": name}
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if -MAX_INTEGER < value < MAX_INTEGER:
            return None
        return _("The number in property “%(name)s” is too large; send it as a string.") % {"name": name}
    if isinstance(value, float):
        return (
            None
            if math.isfinite(value)
            else _("The number in property “%(name)s” is too large.") % {"name": name}
        )
    return _(
        "Property “%(name)s” must be a string, a number, true, false or null, not a list or an object."
    ) % {"name": name}


def properties_problem(properties: Mapping[str, object], *, as_text: bool = False) -> str | None:
    """What is wrong with a set of properties as a client sent them (the first problem), or None."""
    if len(properties) > MAX_PROPERTIES:
        return _("At most %(limit)d properties can be sent.") % {"limit": MAX_PROPERTIES}
    for name, value in properties.items():
        if problem := name_problem(name) or value_problem(name, value, as_text=as_text):
            return problem
    return None


def is_filterable_property(name: str) -> bool:
    """Whether a property name is valid and reads as a JSON key in a query, not as a lookup
    (``isnull``, ``a__contains``): the names dashboards can filter and break down by."""
    lookups = KeyTransform.get_class_lookups().keys() | models.JSONField.get_class_lookups().keys()
    return (
        bool(PROPERTY_NAME.fullmatch(name))
        and "__" not in name
        and name not in lookups
        and not name.isdigit()
    )


def not_filterable_message(name: str) -> str:
    return _("“%(name)s” is not a property name.") % {"name": printable(name)[:80]}


def validate_dashboard_properties(value: object) -> None:
    """``Survey.dashboard_properties``: a short list of distinct names the dashboards can filter by."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValidationError(gettext_lazy('Enter a list of property names, e.g. ["plan", "region"].'))
    if len(value) > MAX_DASHBOARD_PROPERTIES:
        raise ValidationError(
            gettext_lazy("At most %(limit)d properties can be counted for the dashboard."),
            params={"limit": MAX_DASHBOARD_PROPERTIES},
        )
    for name in value:
        if problem := name_problem(name):
            raise ValidationError(problem)
        if not is_filterable_property(name):
            raise ValidationError(
                gettext_lazy("“%(name)s” reads as a database query word; the dashboard cannot filter by it."),
                params={"name": name},
            )
    if len(set(value)) < len(value):
        raise ValidationError(gettext_lazy("Name each property once."))


def filter_pairs(query: QueryDict) -> tuple[tuple[str, str], ...]:
    """The ``property.<name>=<value>`` pairs of a URL's query, sorted; empty values are no filter."""
    return tuple(
        sorted(
            (key.removeprefix(PROPERTY_PREFIX), value)
            for key, values in query.lists()
            if key.startswith(PROPERTY_PREFIX)
            for value in values
            if value
        )
    )


def filters_problem(pairs: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    """What is wrong with property filters: the parameter at fault and the message, or None."""
    if len(pairs) > MAX_PROPERTY_FILTERS:
        return "property", _("At most %(limit)d property filters.") % {"limit": MAX_PROPERTY_FILTERS}
    for name, value in pairs:
        if not is_filterable_property(name):
            return PROPERTY_PREFIX + printable(name)[:80], not_filterable_message(name)
        if len(value) > PROPERTY_VALUE_MAX_LENGTH or "\x00" in value:
            return PROPERTY_PREFIX + name, _("The value of “%(name)s” cannot be searched.") % {"name": name}
    return None


def property_condition(name: str, value: str, *, event: str, contact: str, vendor: str) -> models.Q:
    """Rows whose property ``name`` is ``value`` in the JSON fields ``event`` and ``contact``
    (lookups, such as ``contact__properties``): the event's property wins over the contact's of
    the same name, as in the tallies. ``name`` must be a plain key (``is_filterable_property``).
    Matches text only (on SQLite "true", "false" and "null" also match those JSON values).

    On PostgreSQL (``vendor``) written as containment (``@>``), which GIN indexes serve: a rare
    value reads its own rows, not the whole period."""
    if vendor == "postgresql":
        in_event = models.Q(**{f"{event}__contains": {name: value}})
        in_contact = models.Q(**{f"{contact}__contains": {name: value}})
    else:
        in_event = models.Q(**{f"{event}__{name}": value})
        in_contact = models.Q(**{f"{contact}__{name}": value})
    return in_event | (models.Q(**{f"{event}__{name}__isnull": True}) & in_contact)


def counted_value(name: str, *, event: object, contact: object) -> str | None:
    """The value of a property as the dashboards count it (``PropertyValue`` in SQL): the event's
    if the event has the property, else the contact's; None if neither has it or if the value is
    not text of 1 to PROPERTY_VALUE_MAX_LENGTH characters."""
    for properties in (event, contact):
        if isinstance(properties, dict) and name in properties:
            value = properties[name]
            counted = isinstance(value, str) and 0 < len(value) <= PROPERTY_VALUE_MAX_LENGTH
            return value if counted else None
    return None


class PropertyValue(models.Func):
    """``counted_value`` of a response in SQL: the text a dashboard counts, or NULL.

    Written out for each database: Django's key transforms cannot tell text from other
    JSON values (on SQLite they even read the string "5" as the number 5). The event's
    property is taken whenever the event has the key, as in the Python version.
    """

    output_field = models.TextField()

    def __init__(self, name: str) -> None:
        super().__init__(models.F("event_properties"), models.F("contact_properties"))
        self.name = name

    def as_postgresql(self, compiler, connection):
        return self._compile(
            compiler,
            self.name,
            has="({} -> %s) IS NOT NULL",
            kind="jsonb_typeof({} -> %s)",
            text="({} ->> %s)",
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        # A JSON path, quoted so that a name with a dot stays one key.
        return self._compile(
            compiler,
            f"$.{json.dumps(self.name)}",
            has="json_type({}, %s) IS NOT NULL",
            kind="json_type({}, %s)",
            text="json_extract({}, %s)",
            string="text",
        )

    def _compile(self, compiler, key: str, *, has: str, kind: str, text: str, string: str = "string"):
        event, contact = (compiler.compile(column)[0] for column in self.get_source_expressions())

        def text_of(column: str) -> str:
            return (
                f"CASE WHEN {kind.format(column)} = '{string}' AND length({text.format(column)}) "
                f"BETWEEN 1 AND {PROPERTY_VALUE_MAX_LENGTH} THEN {text.format(column)} END"
            )

        sql = f"(CASE WHEN {has.format(event)} THEN {text_of(event)} ELSE {text_of(contact)} END)"
        return sql, [key] * sql.count("%s")  # the columns take no parameters; every %s is the key
