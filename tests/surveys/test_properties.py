import pytest
from django.http import QueryDict
from django.utils import translation

from surveys.properties import (
    counted_value,
    filter_pairs,
    filters_problem,
    is_filterable_property,
    properties_problem,
    value_problem,
)

NAME_RULE = "is not a valid property name (letters, digits, _ . - up to 64)."


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English; the installation's default is German."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("properties", "as_text", "problem"),
    [
        ({"plan": "pro", "seats": 12, "trial": False, "note": None}, False, None),
        ({"plan": "pro"}, True, None),
        ({"seats": 12}, True, "The value of property “seats” must be text."),
        ({f"p{n}": "x" for n in range(51)}, False, "At most 50 properties can be sent."),
        (
            {"bad name": "x"},
            False,
            "“bad name” is not a valid property name (letters, digits, _ . - up to 64).",
        ),
        ({"a\x00": "x"}, False, "“a\\x00” is not a valid property name (letters, digits, _ . - up to 64)."),
        ({"plan": "x" * 501}, True, "The value of property “plan” is longer than 500 characters."),
        ({"plan": "a\x00b"}, True, "contains a NUL or an unpaired surrogate character."),
        ({"id": 2**63}, False, "The number in property “id” is too large; send it as a string."),
        ({"ratio": float("inf")}, False, "The number in property “ratio” is too large."),
        ({"tags": ["a"]}, False, "must be a string, a number, true, false or null, not a list or an object."),
    ],
)
def test_one_check_for_every_door_properties_come_through(properties, as_text, problem):
    found = properties_problem(properties, as_text=as_text)
    assert found is None if problem is None else problem in found


def test_text_of_500_characters_is_the_longest_value():
    assert value_problem("plan", "x" * 500) is None
    assert value_problem("plan", "x" * 501) is not None


@pytest.mark.parametrize(
    ("event", "contact", "value"),
    [
        ({"plan": "pro"}, {"plan": "basic"}, "pro"),  # the event's wins
        ({}, {"plan": "basic"}, "basic"),
        ({"plan": None}, {"plan": "basic"}, None),  # the event has it, and it is not text
        ({"plan": 5}, {}, None),
        ({"plan": ""}, {}, None),
        ({"plan": "x" * 501}, {}, None),
        ([], "not a dict", None),
    ],
)
def test_the_counted_value_is_the_events_text_else_the_contacts(event, contact, value):
    assert counted_value("plan", event=event, contact=contact) == value


@pytest.mark.parametrize(
    ("name", "filterable"),
    [
        ("plan", True),
        ("shop.region", True),
        ("isnull", False),
        ("a__b", False),
        ("42", False),
        ("a b", False),
    ],
)
def test_names_that_read_as_query_words_cannot_be_filtered_by(name, filterable):
    assert is_filterable_property(name) is filterable


def test_filters_are_read_from_the_query_sorted_and_checked():
    query = QueryDict("property.region=Nord&property.plan=pro&property.plan=&survey=3")
    assert filter_pairs(query) == (("plan", "pro"), ("region", "Nord"))
    assert filters_problem(filter_pairs(query)) is None
    assert filters_problem((("isnull", "1"),)) == ("property.isnull", "“isnull” is not a property name.")
    assert filters_problem((("plan", "a\x00"),)) == (
        "property.plan",
        "The value of “plan” cannot be searched.",
    )
    too_many = tuple((f"p{n}", "x") for n in range(6))
    assert filters_problem(too_many) == ("property", "At most 5 property filters.")
