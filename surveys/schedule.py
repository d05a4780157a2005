"""When an invitation may go out: a touchpoint's send window in the installation's time zone.

A window is stored as ``{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}``
(0 is Monday) or ``None`` for any time. The arithmetic happens in local wall-clock
time, so 09:00 stays 09:00 across daylight-saving changes.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

WEEKDAYS = range(7)


def default_send_window() -> dict:
    """Monday to Friday, 09:00–18:00: office hours, when people read and answer email."""
    return {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00"}


@dataclass(frozen=True)
class SendWindow:
    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def parse(cls, value: object) -> "SendWindow":
        """The window in ``value``; ValidationError saying what is wrong otherwise."""
        if not isinstance(value, dict) or set(value) != {"days", "start", "end"}:
            raise ValidationError(
                _('A send window is {"days": [0-6], "start": "HH:MM", "end": "HH:MM"} or null.')
            )
        days = value["days"]
        if (
            not isinstance(days, list)
            or not days
            or any(type(day) is not int or day not in WEEKDAYS for day in days)
        ):
            raise ValidationError(_("Send window days are a non-empty list of 0 (Monday) to 6 (Sunday)."))
        start, end = _clock(value["start"]), _clock(value["end"])
        if start >= end:
            raise ValidationError(_("A send window must end after it starts (on the same day)."))
        return cls(days=frozenset(days), start=start, end=end)

    def next_opening(self, due: datetime, zone: ZoneInfo) -> datetime:
        """The first moment at or after ``due`` inside the window (aware, in ``zone``)."""
        local = due.astimezone(zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = _wall_clock(day, self.start, zone)
            closes = _wall_clock(day, self.end, zone)
            if local < opens:
                return opens
            if local < closes:
                return local
        raise AssertionError("a window with at least one day opens within a week")


def _clock(value: object) -> time:
    try:
        if not isinstance(value, str) or len(value) != 5:
            raise ValueError
        return time.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a time like 09:00."), params={"value": str(value)[:20]}
        ) from None


def _wall_clock(day, at: time, zone: ZoneInfo) -> datetime:
    """``day`` at ``at`` o'clock local time; a time skipped by a DST change moves forward."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone)
    # Round-trip through UTC: a non-existent local time (02:30 on the spring change) comes
    # back as the real moment an hour later, so the window never opens in a gap.
    return aware.astimezone(ZoneInfo("UTC")).astimezone(zone)


def validate_send_window(value: object) -> None:
    if value is not None:
        SendWindow.parse(value)


def next_send_time(due: datetime, window: dict | None, zone: ZoneInfo) -> datetime:
    """When an invitation due at ``due`` goes out under ``window`` (None: at once)."""
    if window is None:
        return due
    return SendWindow.parse(window).next_opening(due, zone)
