from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from surveys.schedule import SendWindow, default_send_window, next_send_time

BERLIN = ZoneInfo("Europe/Berlin")
UTC = ZoneInfo("UTC")
OFFICE = default_send_window()


def berlin(*args) -> datetime:
    return datetime(*args).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (berlin(2026, 11, 24, 10, 15), berlin(2026, 11, 24, 10, 15)),  # Tuesday, inside
        (berlin(2026, 11, 24, 7, 0), berlin(2026, 11, 24, 9, 0)),  # before opening
        (berlin(2026, 11, 24, 18, 0), berlin(2026, 11, 25, 9, 0)),  # the end is exclusive
        (berlin(2026, 11, 27, 17, 59), berlin(2026, 11, 27, 17, 59)),  # Friday, last minute
        (berlin(2026, 11, 27, 19, 0), berlin(2026, 11, 30, 9, 0)),  # Friday evening → Monday
        (berlin(2026, 11, 29, 12, 0), berlin(2026, 11, 30, 9, 0)),  # Sunday → Monday
    ],
)
def test_a_due_invitation_waits_for_the_next_opening_of_office_hours(due, expected):
    assert next_send_time(due, OFFICE, BERLIN) == expected


def test_the_window_is_read_in_local_time_whatever_the_zone_of_the_due_time():
    due = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)  # 08:30 in Berlin
    assert next_send_time(due, OFFICE, BERLIN) == berlin(2026, 11, 24, 9, 0)


def test_nine_o_clock_stays_nine_o_clock_across_the_spring_change():
    # Saturday 28 March 2026 evening (CET, +01:00); the clocks go forward on Sunday night.
    opening = next_send_time(berlin(2026, 3, 28, 20, 0), OFFICE, BERLIN)
    assert opening == berlin(2026, 3, 30, 9, 0)
    assert opening.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # CEST, +02:00


def test_nine_o_clock_stays_nine_o_clock_across_the_autumn_change():
    opening = next_send_time(berlin(2026, 10, 24, 20, 0), OFFICE, BERLIN)
    assert opening.astimezone(UTC) == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # CET, +01:00


def test_a_window_opening_in_the_skipped_spring_hour_opens_when_that_hour_is_over():
    night = {"days": [6], "start": "02:30", "end": "05:00"}
    opening = next_send_time(berlin(2026, 3, 29, 0, 0), night, BERLIN)
    assert opening.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST


def test_no_window_sends_at_once():
    due = berlin(2026, 11, 29, 3, 0)
    assert next_send_time(due, None, BERLIN) == due


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("Mon-Fri", "A send window is"),
        ({"days": [0], "start": "09:00"}, "A send window is"),
        ({"days": [], "start": "09:00", "end": "18:00"}, "non-empty list"),
        ({"days": [7], "start": "09:00", "end": "18:00"}, "non-empty list"),
        ({"days": [True], "start": "09:00", "end": "18:00"}, "non-empty list"),
        ({"days": [0], "start": "9", "end": "18:00"}, "is not a time like 09:00"),
        ({"days": [0], "start": "25:00", "end": "18:00"}, "is not a time like 09:00"),
        ({"days": [0], "start": "18:00", "end": "09:00"}, "must end after it starts"),
    ],
)
def test_a_malformed_window_is_refused_with_a_reason(window, message):
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            SendWindow.parse(window)
        assert message in " ".join(error.value.messages)
