"""What the tests of the feedback pages share: answers on a given day, and reading the HTML."""

import re
from datetime import date, datetime
from html import unescape
from zoneinfo import ZoneInfo

from tests.factories import answer_by_link, make_contact, make_invitation

BERLIN = ZoneInfo("Europe/Berlin")


def answer(
    survey,
    score,
    day: date,
    *,
    properties=None,
    touchpoint=None,
    comment="",
    hour=12,
    language="de",
    identity=None,
):
    """An answer as respondents give them, so that the daily tally counts it: by email with a
    touchpoint (the properties are the contact's), else by link (the properties are the event's,
    and the answer claims to come from ``identity``, if given)."""
    at = datetime(day.year, day.month, day.day, hour, 0, tzinfo=BERLIN)
    if touchpoint is not None:
        contact = make_contact(properties=properties or {})
        invitation = make_invitation(survey=survey, touchpoint=touchpoint, now=at, contact=contact)
        return invitation.record_answer(score=score, comment=comment, language=language, now=at)
    return answer_by_link(
        survey, score, at, comment=comment, properties=properties, language=language, identity=identity
    )


def by_id(html: str, element_id: str) -> str:
    """The text inside the element with this id, tags removed and whitespace collapsed."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no element #{element_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(2))).split())
