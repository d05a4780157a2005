"""An answer's page in a real browser: reached from the explorer, tagged and untagged by its forms,
under the pages' Content-Security-Policy without a complaint."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from followup.models import ResponseTag, Tag
from tests.factories import make_contact, make_invitation, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_opens_an_answer_from_the_explorer_and_tags_it(page, live_server, admin_user):
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    now = timezone.now()
    contact = make_contact(email="eva@example.com", name="Eva Kunde", properties={"plan": "pro"})
    invitation = make_invitation(
        survey=survey,
        touchpoint=delivery,
        contact=contact,
        now=now - timedelta(hours=2),
        properties={"order": "A-1042"},
        delivered_at=now - timedelta(hours=1),
        opened_at=now - timedelta(minutes=30),
    )
    invitation.record_answer(score=3, comment="Die Lieferung kam zwei Tage zu spät.", language="de", now=now)
    Tag.objects.create(name="Rückruf")

    page.goto(f"{live_server.url}/login/?next=/verbatims/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/verbatims/")

    page.click("#verbatims a.to-answer")
    expect(page.locator("#comment")).to_have_text("Die Lieferung kam zwei Tage zu spät.")
    expect(page.locator("#journey li")).to_have_count(5)  # created, sent, delivered, opened, answered
    page.fill("#f-tag-name", "Lieferung")
    page.click("#add-tag button[type=submit]")
    expect(page.locator("#tag-list .tag")).to_have_text(["Lieferung"])
    page.fill("#f-tag-name", "rückruf")
    page.click("#add-tag button[type=submit]")
    expect(page.locator("#tag-list .tag")).to_have_text(["Lieferung", "Rückruf"])
    page.locator("#tag-list li", has_text="Lieferung").locator("button").click()
    expect(page.locator("#tag-list .tag")).to_have_text(["Rückruf"])
    assert list(ResponseTag.objects.values_list("tag__name", flat=True)) == ["Rückruf"]
    assert page.errors == []
