"""Tagging answers: names found in any case, new tags only where allowed, nothing half-written."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from followup.cases import open_case
from followup.models import AlertRule, CaseEntry, ResponseTag, Tag
from followup.tags import TagRefused, tag_response, tags_named, untag_response
from tests.factories import make_response, make_survey

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))


@pytest.fixture
def response():
    return make_response(survey=make_survey(kind="nps"), score=3, comment="Zu spät")


def names(response) -> list[str]:
    return sorted(response.tags.values_list("name", flat=True))


def test_a_new_name_becomes_a_tag_where_the_caller_may_create_tags(response, cx_manager):
    added = tag_response(
        response=response, names=["  Lieferung   zu spät "], by=cx_manager, now=NOW, create=True
    )
    assert [tag.name for tag in added] == ["Lieferung zu spät"]
    tagging = ResponseTag.objects.get()
    assert (tagging.response, tagging.added_by, tagging.created_at, tagging.rule) == (
        response,
        cx_manager,
        NOW,
        None,
    )


def test_a_known_tag_is_found_in_any_case_and_not_created_twice(response, cx_manager):
    Tag.objects.create(name="Lieferung")
    tag_response(response=response, names=["lieferung", "LIEFERUNG"], by=cx_manager, now=NOW, create=True)
    assert names(response) == ["Lieferung"]
    assert Tag.objects.count() == 1


def test_a_tag_the_answer_carries_stays_as_it_was_set(response, cx_manager, analyst):
    tag_response(response=response, names=["Callback"], by=cx_manager, now=NOW, create=True)
    assert tag_response(response=response, names=["callback"], by=analyst, now=NOW, create=True) == []
    assert ResponseTag.objects.get().added_by == cx_manager


def test_unknown_names_are_refused_without_the_right_to_create_tags(response, analyst):
    Tag.objects.create(name="Preis")
    with pytest.raises(TagRefused, match="There is no tag named “Lieferung”"):
        tag_response(response=response, names=["Preis", "Lieferung"], by=analyst, now=NOW)
    assert names(response) == []  # not even the known one
    assert list(Tag.objects.values_list("name", flat=True)) == ["Preis"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "Give the tag a name."), ("   \t ", "Give the tag a name."), ("x" * 51, "at most 50 characters")],
)
def test_empty_and_long_names_are_refused_and_nothing_is_stored(response, cx_manager, name, message):
    with pytest.raises(TagRefused, match=message):
        tag_response(response=response, names=["Gut", name], by=cx_manager, now=NOW, create=True)
    assert not Tag.objects.exists() and not ResponseTag.objects.exists()


def test_fifty_characters_are_enough(response, cx_manager):
    tag_response(response=response, names=["x" * 50], by=cx_manager, now=NOW, create=True)
    assert names(response) == ["x" * 50]


def test_a_rule_that_tags_is_remembered_on_the_tag(response):
    rule = AlertRule.objects.create(survey=response.survey, name="Detraktoren")
    Tag.objects.create(name="Detraktor")
    tag_response(response=response, names=["Detraktor"], by=None, now=NOW, rule=rule)
    assert ResponseTag.objects.get().rule == rule


def test_untagging_returns_what_was_carried(response, cx_manager):
    tag_response(response=response, names=["A", "B"], by=cx_manager, now=NOW, create=True)
    a = Tag.objects.get(name="A")
    other = Tag.objects.create(name="C")
    assert untag_response(response=response, tags=[a, other], by=cx_manager, now=NOW) == [a]
    assert names(response) == ["B"]
    assert Tag.objects.count() == 3  # the tag itself stays for other answers


def test_a_tag_change_shows_on_the_answers_case(response, cx_manager):
    case, _ = open_case(response=response, now=NOW)
    tag_response(response=response, names=["Lieferung"], by=cx_manager, now=NOW, create=True)
    untag_response(response=response, tags=list(Tag.objects.all()), by=cx_manager, now=NOW)
    untag_response(response=response, tags=list(Tag.objects.all()), by=cx_manager, now=NOW)  # nothing to say
    entries = case.entries.filter(kind=CaseEntry.Kind.TAGGED).order_by("pk")
    assert [(entry.details, entry.author) for entry in entries] == [
        ({"added": ["Lieferung"]}, cx_manager),
        ({"removed": ["Lieferung"]}, cx_manager),
    ]


def test_tags_are_named_in_any_case_and_unknown_names_refused():
    lieferung = Tag.objects.create(name="Lieferung")
    assert tags_named(["LIEFERUNG", " lieferung ", ""]) == [lieferung]
    assert tags_named([]) == []
    with pytest.raises(TagRefused, match="Preis"):
        tags_named(["Lieferung", "Preis"])
    with pytest.raises(TagRefused, match="Liefer"):  # a NUL character, which PostgreSQL cannot compare
        tags_named(["Lieferung", "Liefer\x00ung"])
