"""The record of processing: read from the configuration each time, so that it cannot go stale."""

import pytest
from django.urls import reverse

from surveys.models import LegalInformation
from tests.factories import make_contact, make_subscription, make_survey

pytestmark = pytest.mark.django_db
PAGE = "/admin/privacy/processing/"


def rows(page, table: str) -> dict[str, str]:
    record = page.context["record"]
    return {row.name: row.text for row in getattr(record, table)}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_only_admins_read_the_record(client, cx_manager, admin_user):
    assert reverse("privacy_processing") == PAGE
    client.force_login(cx_manager)
    assert client.get(PAGE).status_code == 403
    client.force_login(admin_user)
    assert client.get(PAGE).status_code == 200
    assert client.post(PAGE).status_code == 405


def test_the_controller_is_the_legal_information_in_the_readers_language(admin_client):
    LegalInformation.objects.create(
        company_name_de="Kessler Haustechnik GmbH", address_de="Hauptstr. 1\n12345 Musterstadt"
    )

    page = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="de")

    assert page.context["record"].controller.company_name == "Kessler Haustechnik GmbH"
    assert "Hauptstr. 1<br>12345 Musterstadt" in page.content.decode()


def test_the_periods_follow_the_settings_and_the_surveys_own(admin_client, settings):
    settings.LANGUAGE_CODE = "en"
    settings.RETENTION_COMMENT_DAYS = 0
    settings.RETENTION_INVITATION_DAYS = 180
    make_survey(name="Lieferung", comment_retention_days=30)
    make_survey(name="Ohne eigene")

    page = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")

    kept = rows(page, "retention")
    assert kept["Comments"] == "as long as the survey exists"
    assert kept["Invitation details"] == "180 days"
    assert kept["Prepared export files"] == "7 days"
    assert kept["Idempotency records of the API"] == "1 day"
    assert [(survey.name, periods) for survey, periods in page.context["record"].survey_retention] == [
        ("Lieferung", ["30 days", "180 days", "365 days"])
    ]


def test_recipients_name_the_mail_server_and_each_active_webhook_receiver(admin_client, settings, cx_manager):
    settings.LANGUAGE_CODE = "en"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example.com", 587
    make_subscription(owner=cx_manager, url="https://crm.example.com/hooks", include_personal_data=True)
    make_subscription(owner=cx_manager, url="https://paused.example.com/hooks", active=False)

    page = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")

    recipients = rows(page, "recipients")
    assert recipients["Mail server"].startswith("mail.example.com:587 receives each invitation")
    assert "with the customer's email address" in recipients["Webhook receiver crm.example.com"]
    assert "Webhook receiver paused.example.com" not in recipients


def test_an_email_provider_is_named_with_its_tracking(admin_client, settings):
    settings.LANGUAGE_CODE = "en"
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "user:secret"}

    provider = rows(admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en"), "recipients")["Email provider"]

    assert "postmark" in provider and "reports deliveries" in provider
    assert "user:secret" not in provider


def test_the_data_name_the_contact_properties_in_use_and_never_their_values(admin_client, settings):
    settings.LANGUAGE_CODE = "en"
    make_contact(properties={"plan": "pro", "region": "Nord"})
    make_contact(properties={"customer_since": "2019"})

    page = admin_client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en")

    customers = rows(page, "data")["Customers (contacts)"]
    assert "customer_since, plan, region" in customers
    assert "Nord" not in page.content.decode()
    bases = rows(page, "legal_bases")
    assert sum(int(count) for count in bases.values()) == 2


def test_no_password_of_a_service_appears(admin_client, settings):
    settings.CELERY_BROKER_URL = "redis://:broker-password@redis.internal:6379/1"

    page = admin_client.get(PAGE)

    assert "broker-password" not in page.content.decode()
    assert "redis.internal:6379" in page.content.decode()
