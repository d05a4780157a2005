"""The touchpoint's form: a delay in minutes, hours or days and a send window of day checkboxes
and times, converted to the model's seconds and JSON and back, refused with a message per field."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from surveys.models import Touchpoint
from surveys.schedule import SendWindow, default_send_window, next_send_time
from surveys.setup.touchpoints import TouchpointForm, delay_in_largest_unit, describe_delay
from tests.factories import make_staff, make_survey, make_team, make_touchpoint

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def fields(survey, **changes) -> dict:
    """What the page posts for a touchpoint asked two days after the event, Monday to Friday 9–18."""
    return {
        "name": "Lieferung zugestellt",
        "slug": "delivery",
        "survey": str(survey.pk),
        "active": "on",
        "recontact_days": "30",
        "sample_percent": "100",
        "delay_amount": "2",
        "delay_unit": "days",
        "send_days": ["0", "1", "2", "3", "4"],
        "send_start": "09:00",
        "send_end": "18:00",
        **changes,
    }


def without(data: dict, *names: str) -> dict:
    return {name: value for name, value in data.items() if name not in names}


@pytest.mark.parametrize(
    ("amount", "unit", "seconds"),
    [("0", "hours", 0), ("45", "minutes", 2700), ("36", "hours", 129600), ("2", "days", 172800)],
)
def test_the_delay_is_stored_in_seconds(amount, unit, seconds):
    form = TouchpointForm(fields(make_survey(), delay_amount=amount, delay_unit=unit))
    assert form.is_valid(), form.errors
    assert form.save().delay_seconds == seconds


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, (0, "days")),
        (900, (15, "minutes")),
        (5400, (90, "minutes")),
        (7200, (2, "hours")),
        (129600, (36, "hours")),
        (172800, (2, "days")),
        (90, (90, "seconds")),
    ],
)
def test_a_stored_delay_is_shown_in_the_largest_unit_that_divides_it(seconds, shown):
    assert delay_in_largest_unit(seconds) == shown
    form = TouchpointForm(instance=make_touchpoint(delay_seconds=seconds))
    assert (form["delay_amount"].value(), form["delay_unit"].value()) == shown


def test_seconds_are_offered_only_for_a_delay_no_minute_divides():
    assert [
        unit
        for unit, _ in TouchpointForm(instance=make_touchpoint(delay_seconds=3600))
        .fields["delay_unit"]
        .choices
    ] == ["minutes", "hours", "days"]
    odd = TouchpointForm(instance=make_touchpoint(delay_seconds=90))
    assert "seconds" in [unit for unit, _ in odd.fields["delay_unit"].choices]
    # Saved again unchanged, it keeps its seconds.
    touchpoint = odd.instance
    data = fields(touchpoint.survey, slug=touchpoint.slug, delay_amount="90", delay_unit="seconds")
    form = TouchpointForm(data, instance=touchpoint)
    assert form.is_valid(), form.errors
    assert form.save().delay_seconds == 90


def test_the_delay_reads_as_words():
    with translation.override("en"):
        assert [describe_delay(seconds) for seconds in (0, 3600, 5400, 172800, 86400)] == [
            "0 days",
            "1 hour",
            "90 minutes",
            "2 days",
            "1 day",
        ]


def test_days_and_times_are_stored_as_the_send_window_the_dispatcher_reads():
    data = fields(make_survey(), send_days=["5", "0", "2"], send_start="08:30", send_end="12:15")
    form = TouchpointForm(data)
    assert form.is_valid(), form.errors
    touchpoint = form.save()
    touchpoint.refresh_from_db()
    assert touchpoint.send_window == {"days": [0, 2, 5], "start": "08:30", "end": "12:15"}
    window = SendWindow.parse(touchpoint.send_window)
    assert window.days == frozenset({0, 2, 5})
    # Due on a Thursday afternoon (26 November 2026): it goes out on Saturday at 08:30, Berlin time.
    due = datetime(2026, 11, 26, 15, 0, tzinfo=BERLIN)
    assert next_send_time(due, touchpoint.send_window, BERLIN) == datetime(2026, 11, 28, 8, 30, tzinfo=BERLIN)


def test_a_stored_send_window_is_shown_as_days_and_times():
    window = {"days": [1, 3, 6], "start": "07:45", "end": "20:00"}
    form = TouchpointForm(instance=make_touchpoint(send_window=window))
    assert [int(day) for day in form["send_days"].value()] == [1, 3, 6]
    assert (form["send_start"].value(), form["send_end"].value()) == ("07:45", "20:00")
    assert form["send_any_time"].value() is False
    html = str(form["send_days"])
    assert html.count('type="checkbox"') == 7
    assert html.count("checked") == 3


def test_the_days_are_named_in_the_users_language_from_monday():
    form = TouchpointForm()
    with translation.override("de"):
        assert [str(label) for _day, label in form.fields["send_days"].choices] == [
            "Montag",
            "Dienstag",
            "Mittwoch",
            "Donnerstag",
            "Freitag",
            "Samstag",
            "Sonntag",
        ]
    with translation.override("en"):
        assert str(form.fields["send_days"].choices[0][1]) == "Monday"


def test_any_time_stores_no_window_and_keeps_office_hours_to_offer():
    form = TouchpointForm(fields(make_survey(), send_any_time="on", send_days=[], send_start="", send_end=""))
    assert form.is_valid(), form.errors
    touchpoint = form.save()
    touchpoint.refresh_from_db()
    assert touchpoint.send_window is None
    shown = TouchpointForm(instance=touchpoint)
    assert shown["send_any_time"].value() is True
    office = default_send_window()
    assert [int(day) for day in shown["send_days"].value()] == office["days"]
    assert shown["send_start"].value() == office["start"]


def test_a_new_touchpoint_starts_with_office_hours_and_no_delay():
    form = TouchpointForm()
    assert form["send_any_time"].value() is False
    assert [int(day) for day in form["send_days"].value()] == [0, 1, 2, 3, 4]
    assert (form["send_start"].value(), form["send_end"].value()) == ("09:00", "18:00")
    assert (form["delay_amount"].value(), form["delay_unit"].value()) == (0, "days")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"send_days": []}, "send_days"),
        ({"send_days": ["7"]}, "send_days"),
        ({"send_start": "18:00", "send_end": "09:00"}, "send_end"),  # no window over midnight
        ({"send_start": "09:00", "send_end": "09:00"}, "send_end"),
        ({"send_start": "9 Uhr"}, "send_start"),
        ({"send_start": "25:00"}, "send_start"),
        ({"send_end": ""}, "send_end"),
        ({"delay_amount": "-1"}, "delay_amount"),
        ({"delay_amount": "zwei"}, "delay_amount"),
        ({"delay_amount": ""}, "delay_amount"),
        ({"delay_amount": "30000", "delay_unit": "days"}, "delay_amount"),  # beyond the column
        ({"delay_unit": "weeks"}, "delay_unit"),
        ({"delay_unit": "seconds"}, "delay_unit"),  # only for a delay already in seconds
        ({"sample_percent": "101"}, "sample_percent"),
        ({"recontact_days": "40000"}, "recontact_days"),
        ({"reminder_after_days": "0"}, "reminder_after_days"),
        ({"slug": "Lieferung zugestellt!"}, "slug"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_refused_by_the_field_it_concerns(changes, field):
    survey = make_survey()
    form = TouchpointForm(fields(survey, **changes))
    assert not form.is_valid()
    assert field in form.errors, form.errors
    assert not Touchpoint.objects.exists()


def test_a_refused_form_leaves_the_touchpoint_as_it_was():
    touchpoint = make_touchpoint(delay_seconds=3600, send_window=default_send_window())
    data = fields(touchpoint.survey, slug=touchpoint.slug, delay_amount="3", send_days=[])
    assert not TouchpointForm(data, instance=touchpoint).is_valid()
    touchpoint.refresh_from_db()
    assert (touchpoint.delay_seconds, touchpoint.send_window) == (3600, default_send_window())


def test_a_new_touchpoints_slug_is_made_from_its_name_if_left_empty():
    form = TouchpointForm(fields(make_survey(), name="Rücksendung erhalten", slug=""))
    assert form.is_valid(), form.errors
    assert form.save().slug == "rucksendung-erhalten"
    taken = TouchpointForm(fields(make_survey(), name="Rücksendung erhalten", slug=""))
    assert not taken.is_valid()
    assert "slug" in taken.errors


def test_the_survey_is_chosen_among_the_users_surveys():
    mine, theirs = make_survey(name="Mine"), make_survey(name="Theirs")
    user = make_staff("manager-a")
    make_team(surveys=[mine], members=[user])
    make_team(surveys=[theirs])
    form = TouchpointForm(fields(theirs), user=user)
    assert list(form.fields["survey"].queryset) == [mine]
    assert not form.is_valid()
    assert "survey" in form.errors


def test_a_read_only_form_offers_no_save_and_takes_nothing():
    touchpoint = make_touchpoint(delay_seconds=3600)
    form = TouchpointForm(
        fields(touchpoint.survey, slug="changed", delay_amount="9"), instance=touchpoint, read_only=True
    )
    assert all(field.disabled for field in form.fields.values())
    assert form.helper.inputs == []
    assert form.is_valid(), form.errors
    assert form.cleaned_data["slug"] == touchpoint.slug
    assert form.instance.delay_seconds == 3600
