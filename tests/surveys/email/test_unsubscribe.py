from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from surveys.email.unsubscribe import unsubscribe_token
from surveys.models import Contact
from tests.factories import make_contact, make_invitation, make_survey

pytestmark = pytest.mark.django_db

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def one_click(client: Client, link: str):
    """The request of RFC 8058, as mail services send it."""
    return client.post(link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")


def url(contact: Contact, suffix: str = "") -> str:
    return f"/u/{unsubscribe_token(contact)}/{suffix}"


@pytest.fixture
def contact():
    return make_contact(language="en")


@pytest.fixture
def mail_service():
    """A client like a mail service's one-click request: no cookies, CSRF checks on."""
    return Client(enforce_csrf_checks=True)


def test_opening_the_link_asks_for_confirmation_and_changes_nothing(client, contact):
    for method in (client.get, client.head):
        page = method(url(contact))
        assert page.status_code == 200
    page = client.get(url(contact)).content.decode()
    assert "Unsubscribe from surveys" in page
    assert '<button type="submit">Unsubscribe</button>' in page
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_the_page_shows_the_brand_of_the_last_survey_the_contact_got(client, contact):
    make_invitation(survey=make_survey(brand="Acme", accent_color="#123456"), contact=contact)
    page = client.get(url(contact)).content.decode()
    assert '<p class="brand">Acme</p>' in page
    assert "--accent: #123456" in page


def test_a_one_click_post_without_cookie_or_csrf_token_unsubscribes_at_once(mail_service, contact):
    response = one_click(mail_service, url(contact))
    assert response.status_code == 200
    assert "You have been unsubscribed" in response.content.decode()
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None
    assert response["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_one_click_post_as_multipart_form_data_unsubscribes_too(mail_service, contact):
    response = mail_service.post(url(contact), ONE_CLICK)  # the test client sends multipart by default
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None


def test_unsubscribing_again_keeps_the_first_time(mail_service, contact):
    one_click(mail_service, url(contact))
    contact.refresh_from_db()
    first = contact.unsubscribed_at
    again = one_click(mail_service, url(contact))
    assert again.status_code == 200
    contact.refresh_from_db()
    assert contact.unsubscribed_at == first


def test_a_post_without_the_one_click_body_is_refused_and_changes_nothing(mail_service, contact):
    response = mail_service.post(url(contact), {"action": "unsubscribe"})
    assert response.status_code == 400
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_an_unsubscribed_contact_is_told_so_and_offered_to_subscribe_again(client, contact):
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=timezone.now())
    page = client.get(url(contact)).content.decode()
    assert "You are unsubscribed" in page
    assert "Subscribe again" in page
    assert f'action="{url(contact, "resubscribe/")}"' in page


def test_a_changed_token_is_not_found(client, contact):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # no contact: the browser's language
    token = unsubscribe_token(contact)
    changed = token[:-1] + ("A" if token[-1] != "A" else "B")
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=timezone.now())
    for response in (
        client.get(f"/u/{changed}/"),
        one_click(client, f"/u/{changed}/"),
        client.post(f"/u/{changed}/resubscribe/"),
    ):
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None


def test_an_invitation_token_is_no_unsubscribe_token_and_the_other_way_round(client, contact):
    invitation = make_invitation(contact=contact)
    assert client.post(f"/u/{invitation.token}/", ONE_CLICK).status_code == 404
    assert client.get(f"/s/{unsubscribe_token(contact)}/").status_code == 404
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_the_link_of_a_deleted_contact_confirms_like_any_other(client, mail_service, contact):
    link = url(contact)
    contact.delete()
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = mail_service.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = one_click(mail_service, link)
    assert response.status_code == 200
    assert "You have been unsubscribed" in response.content.decode()
    assert "You are unsubscribed" in client.get(link).content.decode()
    assert not Contact.objects.exists()


def test_unknown_tokens_are_rate_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "unknown_token": 2}
    statuses = [client.get(f"/u/{'x' * 32}/").status_code for _ in range(3)]
    assert statuses == [404, 404, 429]


def test_subscribing_again_needs_the_csrf_token_of_the_page(mail_service, contact):
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=timezone.now())
    assert mail_service.post(url(contact, "resubscribe/")).status_code == 403
    contact.refresh_from_db()
    assert contact.unsubscribed_at is not None


def test_subscribing_again_clears_only_the_unsubscription(contact):
    browser = Client(enforce_csrf_checks=True)
    bounced = timezone.now() - timedelta(days=3)
    Contact.objects.filter(pk=contact.pk).update(unsubscribed_at=timezone.now(), bounced_at=bounced)
    browser.get(url(contact))
    token = browser.cookies["csrftoken"].value
    response = browser.post(url(contact, "resubscribe/"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert "You are subscribed again" in response.content.decode()
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None
    assert contact.bounced_at == bounced


def test_subscribing_again_is_a_post_only(client, contact):
    assert client.get(url(contact, "resubscribe/")).status_code == 405


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_other_methods_are_not_allowed(client, contact, method):
    assert getattr(client, method)(url(contact)).status_code == 405
    contact.refresh_from_db()
    assert contact.unsubscribed_at is None


def test_a_german_contact_gets_a_german_page(client):
    contact = make_contact(language="de")
    page = client.get(url(contact), headers={"Accept-Language": "en"}).content.decode()
    assert '<html lang="de">' in page
