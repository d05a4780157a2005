"""Every path that writes a comment or its language writes its terms too (``Response.comment_terms``).

The suite checks every test's responses against a fresh lemmatisation (tests/conftest.py);
here each path is taken on purpose, and its terms are checked to say what the comment says now.
"""

import io
import json
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from privacy.erasure import erase_contact
from privacy.retention import apply_retention
from surveys.models import Invitation, Response
from tests.factories import answer_by_link, make_contact, make_invitation, make_survey
from tests.terms import stale_comment_terms

pytestmark = pytest.mark.django_db

LATE = "Die Lieferungen kamen zu spät"
FINE = "Alles bestens geliefert"
SHOP = "https://shop.example.com"
WIDGET = "/api/v1/widget/responses/"


def by_email(client) -> Response:
    invitation = make_invitation(contact=make_contact(language="de"))
    client.post(f"/s/{invitation.token}/?lang=de", {"score": "3", "comment": LATE})
    return Response.objects.get()


def changed_by_email(client) -> Response:
    by_email(client)
    invitation = Invitation.objects.get()
    client.post(f"/s/{invitation.token}/?lang=de", {"score": "9", "comment": FINE})
    return Response.objects.get()


def changed_language_by_email(client) -> Response:
    """A score-only answer in another language keeps the comment, read in the new language."""
    by_email(client)
    Invitation.objects.get().record_answer(score=4, comment=None, language="en", now=timezone.now())
    return Response.objects.get()


def by_link(client) -> Response:
    survey = make_survey()
    client.post(f"/l/{survey.public_key}/?lang=de", {"score": "2", "comment": LATE})
    return Response.objects.get()


def changed_by_link(client) -> Response:
    survey = by_link(client).survey
    client.post(f"/l/{survey.public_key}/?lang=de", {"score": "9", "comment": FINE})
    return Response.objects.get()


def by_widget(client) -> Response:
    survey = make_survey(widget_origins=SHOP)
    body = {"key": survey.public_key, "score": 2, "comment": LATE, "language": "de"}
    client.post(WIDGET, json.dumps(body), content_type="application/json", headers={"Origin": SHOP})
    return Response.objects.get()


def changed_by_widget(client) -> Response:
    survey = make_survey(widget_origins=SHOP)
    body = {"key": survey.public_key, "score": 2, "language": "de"}
    created = client.post(
        WIDGET, json.dumps(body), content_type="application/json", headers={"Origin": SHOP}
    ).json()
    change = {"key": survey.public_key, "edit_token": created["edit_token"], "comment": FINE}
    client.patch(
        f"{WIDGET}{created['id']}/",
        json.dumps(change),
        content_type="application/json",
        headers={"Origin": SHOP},
    )
    return Response.objects.get()


def erased(client) -> Response:
    contact = make_contact(email="anna@example.com", name="Anna Lieferant")
    invitation = make_invitation(contact=contact)
    invitation.record_answer(score=3, comment=LATE, language="de", now=timezone.now())
    erase_contact(contact_id=contact.pk, keep_comments=False)
    return Response.objects.get()


def erased_keeping_the_comment(client) -> Response:
    contact = make_contact(email="anna@example.com", name="Anna Lieferant")
    invitation = make_invitation(contact=contact)
    comment = "Anna Lieferant hier: die Lieferungen kamen zu spät, anna@example.com"
    invitation.record_answer(score=3, comment=comment, language="de", now=timezone.now())
    erase_contact(contact_id=contact.pk, keep_comments=True)
    return Response.objects.get()


def past_retention(client) -> Response:
    survey = make_survey(comment_retention_days=30)
    answer_by_link(survey, 3, timezone.now() - timedelta(days=31), comment=LATE)
    apply_retention(now=timezone.now())
    return Response.objects.get()


def backfilled(client) -> Response:
    """Migration 0015 fills in the terms of answers stored before the column."""
    survey = make_survey()
    for hours in range(3):
        answer_by_link(survey, 3, timezone.now() - timedelta(hours=hours), comment=LATE)
    Response.objects.update(comment_terms="")
    # The editor is only asked for its connection: SQLite cannot enter it inside a test's transaction.
    import_module("surveys.migrations.0015_comment_terms").fill_terms(apps, connection.schema_editor())
    return Response.objects.order_by("pk")[0]


PATHS = {
    by_email: {"lieferung", "spät"},
    changed_by_email: {"liefern", "bestens"},
    changed_language_by_email: {"lieferungen", "kamen"},  # English knows neither word
    by_link: {"lieferung", "spät"},
    changed_by_link: {"liefern", "bestens"},
    by_widget: {"lieferung", "spät"},
    changed_by_widget: {"liefern", "bestens"},
    erased: set(),
    erased_keeping_the_comment: {"lieferung", "email", "name"},
    past_retention: set(),
    backfilled: {"lieferung", "spät"},
}


@pytest.mark.parametrize("path", PATHS, ids=[path.__name__ for path in PATHS])
def test_each_path_that_writes_a_comment_writes_its_terms(client, path):
    response = path(client)
    terms = set(response.comment_terms.split())
    if PATHS[path]:
        assert PATHS[path] <= terms
    else:  # an emptied comment leaves no term
        assert (response.comment, response.comment_terms) == ("", "")
    assert "anna" not in terms
    assert "lieferant" not in terms
    assert not stale_comment_terms()


def test_the_demo_data_has_its_terms():
    call_command("seed_demo", contacts=50, responses=200, stdout=io.StringIO(), force_demo_user=True)
    assert Response.objects.exclude(comment="").exclude(comment_terms="").exists()
    assert not Response.objects.exclude(comment="").filter(comment_terms="").exists()
    assert not stale_comment_terms()
