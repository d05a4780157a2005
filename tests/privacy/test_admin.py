"""The contact's page in the back office: its erasure behind a confirmation, and its personal data."""

import json

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from surveys.models import Contact, Response
from surveys.terms import comment_fields
from tests.factories import make_contact
from tests.privacy.conftest import EMAIL, NAME, PHONE

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def erase_url(contact) -> str:
    return reverse("admin:surveys_contact_delete", args=[contact.pk])


def data_url(contact) -> str:
    return reverse("admin:surveys_contact_personal_data", args=[contact.pk])


def test_the_confirmation_names_what_goes_and_what_stays_and_changes_nothing(admin_client, world):
    page = admin_client.get(erase_url(world.anna))

    assert page.status_code == 200
    goes = dict((str(label), count) for label, count in page.context["goes"])
    assert goes["answers"] == 4
    assert goes["invitations"] == 6
    assert goes["events"] == 2
    assert goes["webhook messages"] == 5
    assert goes["prepared export files"] == 1
    html = page.content.decode()
    assert "What stays" in html and "scores" in html
    assert "suppression list as keyed hashes" in html  # she unsubscribed
    assert Contact.objects.filter(pk=world.anna.pk).exists()


def test_confirming_erases_and_says_how_much(admin_client, world):
    page = admin_client.post(erase_url(world.anna), {"post": "yes"}, follow=True)

    assert page.redirect_chain[-1][0] == reverse("admin:surveys_contact_changelist")
    assert not Contact.objects.filter(pk=world.anna.pk).exists()
    assert "The contact was erased: 4 answers, 6 invitations and 2 events no longer name it." in [
        str(message) for message in page.context["messages"]
    ]
    assert Response.objects.filter(comment__contains=NAME).count() == 0
    entry = AuditEvent.objects.get(action="contact_erased")
    assert (entry.actor, entry.via, entry.object_id) == ("admin", "web", str(world.anna.pk))


def test_the_options_delete_the_answers_or_keep_the_comments_masked(admin_client, world):
    admin_client.post(erase_url(world.anna), {"post": "yes", "keep_comments": "on"})
    assert Response.objects.get(pk=world.answers[0].pk).comment.startswith("Ich bin [name]")

    bernd = world.others[0]
    admin_client.post(erase_url(bernd), {"post": "yes", "delete_answers": "on"})
    assert not Response.objects.filter(score=10).exists()


def test_a_post_without_the_confirmation_only_shows_the_page_again(admin_client):
    contact = make_contact()
    page = admin_client.post(erase_url(contact), {"delete_answers": "on"})
    assert page.status_code == 200
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_who_may_not_delete_contacts_may_not_erase_them(client, cx_manager):
    contact = make_contact()
    client.force_login(cx_manager)
    assert client.get(erase_url(contact)).status_code == 403
    assert client.post(erase_url(contact), {"post": "yes"}).status_code == 403
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_list_offers_no_bulk_delete(admin_client):
    contact = make_contact()
    page = admin_client.get(reverse("admin:surveys_contact_changelist"))
    assert page.context["action_form"] is None  # the contacts' list has no other action
    refused = admin_client.post(
        reverse("admin:surveys_contact_changelist"),
        {"action": "delete_selected", "_selected_action": [contact.pk], "post": "yes"},
    )
    assert refused.status_code in (200, 302)
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_contact_s_page_links_its_personal_data_and_its_erasure(admin_client, client, cx_manager):
    contact = make_contact()
    page = admin_client.get(reverse("admin:surveys_contact_change", args=[contact.pk])).content.decode()
    assert data_url(contact) in page and erase_url(contact) in page
    client.force_login(cx_manager)
    page = client.get(reverse("admin:surveys_contact_change", args=[contact.pk])).content.decode()
    assert data_url(contact) in page and erase_url(contact) not in page


def test_the_personal_data_page_shows_every_place_and_is_recorded(client, cx_manager, world):
    client.force_login(cx_manager)
    page = client.get(data_url(world.anna), headers={"Accept-Language": "de"})

    assert page.status_code == 200
    sections = {section.place.name: section for section in page.context["sections"]}
    assert list(sections) == [
        "contact",
        "invitations",
        "case_replies",
        "questions_after_cases",
        "responses",
        "events",
        "webhook_messages",
        "consents",
        "autopilot",  # registered by the Delighted compatibility layer
    ]
    assert len(sections["responses"].rows) == 4 and len(sections["invitations"].rows) == 6
    html = page.content.decode()
    assert PHONE in html and "Antworten" in html  # in German
    assert "<td>geplant</td>" in html and "<td>scheduled</td>" not in html  # codes by their labels
    assert "<script>" not in html.split("<body")[1].replace('<script src="', "")
    entry = AuditEvent.objects.get(action="access_exported")
    assert (entry.actor, entry.object_id, entry.details["form"]) == ("manager", str(world.anna.pk), "html")
    assert entry.details["counts"]["responses"] == 4
    assert EMAIL.lower() not in json.dumps(entry.details).lower()


def test_the_personal_data_downloads_as_json(client, cx_manager, world):
    client.force_login(cx_manager)
    download = client.get(data_url(world.anna), {"format": "json"})

    assert (
        download["Content-Disposition"]
        == f'attachment; filename="personal-data-contact-{world.anna.pk}.json"'
    )
    document = json.loads(download.content)
    assert document["contact"]["email"] == EMAIL
    assert AuditEvent.objects.get(action="access_exported").details["form"] == "json"


def test_a_comment_is_shown_escaped_on_the_personal_data_page(admin_client, world):
    script = "<script>alert(1)</script>"
    Response.objects.filter(pk=world.answers[1].pk).update(comment=script, **comment_fields(script, "de"))
    html = admin_client.get(data_url(world.anna)).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_who_may_not_view_contacts_does_not_see_their_personal_data(client, analyst):
    contact = make_contact()
    client.force_login(analyst)
    assert client.get(data_url(contact)).status_code == 403
    assert not AuditEvent.objects.filter(action="access_exported").exists()
