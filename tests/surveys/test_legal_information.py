"""The installation's legal information: its one page in the back office (Admins only), its
fallback between languages, and the system check that misses it."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.urls import reverse

from surveys import roles
from surveys.checks import NO_IMPRESSUM, NO_PRIVACY_NOTICE, check_legal_information
from surveys.models import LegalFooter, LegalInformation, Survey, validate_web_url
from tests.factories import make_staff, make_survey
from tests.legal import ENGLISH, GERMAN, set_legal_information

pytestmark = pytest.mark.django_db

PAGE = "/admin/surveys/legalinformation/1/change/"
FIELDS = [*GERMAN, *ENGLISH, "return_url"]


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def admin_role(db):
    return make_staff("boss", roles.ADMIN)


def form(**values) -> dict:
    return {field: "" for field in FIELDS} | values


def test_the_list_leads_an_admin_to_the_one_page_of_legal_information(client, admin_role):
    LegalInformation.objects.all().delete()
    client.force_login(admin_role)
    answer = client.get(reverse("admin:surveys_legalinformation_changelist"))
    assert (answer.status_code, answer["Location"]) == (302, PAGE)
    assert LegalInformation.objects.get().pk == 1
    assert client.get(reverse("admin:surveys_legalinformation_changelist"))["Location"] == PAGE
    assert LegalInformation.objects.count() == 1
    page = client.get(PAGE).content.decode()
    assert 'name="privacy_url_de"' in page and 'name="impressum_url_en"' in page
    assert "Delete" not in page and "_addanother" not in page


def test_an_admin_saves_the_legal_information_and_its_history_says_who(client, admin_role):
    client.force_login(admin_role)
    client.get(reverse("admin:surveys_legalinformation_changelist"))
    answer = client.post(PAGE, form(**GERMAN, **ENGLISH, return_url="https://www.kessler.example/"))
    assert answer.status_code == 302
    legal = LegalInformation.objects.get()
    assert {field: getattr(legal, field) for field in FIELDS} == {
        **GERMAN,
        **ENGLISH,
        "return_url": "https://www.kessler.example/",
    }
    assert legal.updated_at is not None
    entry = LogEntry.objects.get(object_id="1", content_type__model="legalinformation")
    assert entry.user == admin_role
    assert "Privacy notice URL (German)" in entry.get_change_message()


def test_a_web_address_without_its_scheme_is_taken_as_https(client, admin_role):
    client.force_login(admin_role)
    client.get(reverse("admin:surveys_legalinformation_changelist"))
    assert client.post(PAGE, form(privacy_url_en="www.kessler.example/privacy")).status_code == 302
    assert LegalInformation.objects.get().privacy_url_en == "https://www.kessler.example/privacy"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "ftp://files.kessler.example/privacy.pdf",
            "Enter a web address that starts with https:// or http://",
        ),
        ("mailto:datenschutz@kessler.example", "Enter a valid URL."),
        ("javascript:alert(1)", "Enter a valid URL."),
        ("https://", "Enter a valid URL."),
    ],
)
def test_an_address_a_browser_cannot_open_as_a_page_is_refused_with_a_reason(
    client, admin_role, value, message
):
    set_legal_information(privacy_url_de=GERMAN["privacy_url_de"])
    client.force_login(admin_role)
    answer = client.post(PAGE, form(impressum_url_de=value))
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert LegalInformation.objects.get().impressum_url_de == ""
    assert LegalInformation.objects.get().privacy_url_de == GERMAN["privacy_url_de"]


def test_others_than_admins_may_neither_see_nor_change_it(client, cx_manager, analyst, outsider):
    set_legal_information(**GERMAN)
    for user in (cx_manager, analyst, outsider):
        client.force_login(user)
        assert client.get(reverse("admin:surveys_legalinformation_changelist")).status_code == 403
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, form(privacy_url_de="https://evil.example/")).status_code == 403
    assert LegalInformation.objects.get().privacy_url_de == GERMAN["privacy_url_de"]
    client.force_login(cx_manager)
    assert "legalinformation" not in client.get(reverse("admin:index")).content.decode()


def test_an_installations_existing_admin_role_gets_the_permissions_of_the_legal_information():
    migration = import_module("surveys.migrations.0011_legal_information_and_consent_records")
    admins = Group.objects.get(name=roles.ADMIN)
    legal = Permission.objects.filter(content_type__model="legalinformation")
    admins.permissions.remove(*legal)
    migration.let_admins_edit_legal_information(apps, SimpleNamespace(connection=connection))
    assert set(
        admins.permissions.filter(content_type__model="legalinformation").values_list("codename", flat=True)
    ) == {
        "view_legalinformation",
        "change_legalinformation",
    }
    assert not Group.objects.get(name=roles.CX_MANAGER).permissions.filter(
        content_type__model="legalinformation"
    )


def test_a_survey_names_its_own_return_url_in_the_back_office(client, cx_manager):
    survey = make_survey()
    client.force_login(cx_manager)
    page = reverse("admin:surveys_survey_change", args=[survey.pk])
    fields = {
        "name": survey.name,
        "brand": survey.brand,
        "expires_after_days": 30,
        "accent_color": "#2456a6",
        "dashboard_properties": "[]",
        "touchpoints-TOTAL_FORMS": 0,
        "touchpoints-INITIAL_FORMS": 0,
    }
    refused = client.post(page, {**fields, "return_url": "ftp://shop.example.com/"})
    assert refused.status_code == 200
    assert "Enter a web address that starts with https:// or http://" in refused.content.decode()
    assert client.post(page, {**fields, "return_url": "shop.example.com/account"}).status_code == 302
    assert Survey.objects.get().return_url == "https://shop.example.com/account"


# The footer in each language, and what a missing text falls back to.


def test_each_language_shows_its_own_texts():
    legal = LegalInformation(**GERMAN, **ENGLISH)
    assert legal.footer("de") == LegalFooter(
        company_name=GERMAN["company_name_de"],
        address=GERMAN["address_de"],
        privacy_url=GERMAN["privacy_url_de"],
        impressum_url=GERMAN["impressum_url_de"],
    )
    assert legal.footer("en").privacy_url == ENGLISH["privacy_url_en"]


def test_a_missing_text_falls_back_to_the_other_languages_each_on_its_own():
    legal = LegalInformation(company_name_de="Kessler GmbH", privacy_url_en="https://kessler.example/privacy")
    assert legal.footer("en") == LegalFooter(
        company_name="Kessler GmbH", privacy_url="https://kessler.example/privacy"
    )
    assert legal.footer("de") == legal.footer("en")
    assert not LegalInformation().footer("de")
    assert LegalInformation(address_en="  \n ").footer("de") == LegalFooter()


def test_an_address_keeps_its_lines_without_empty_ones_or_surrounding_spaces():
    legal = LegalInformation(address_de=" Hauptstraße 5 \r\n\r\n80331 München\n")
    assert legal.footer("de").address == "Hauptstraße 5\n80331 München"


def test_the_installation_has_one_row_of_legal_information():
    assert LegalInformation.objects.current().pk == 1  # an unsaved, empty one until it is saved
    set_legal_information(**GERMAN)
    assert LegalInformation.objects.current().company_name_de == GERMAN["company_name_de"]
    with pytest.raises(ValidationError):
        LegalInformation(id=2).full_clean()


@pytest.mark.parametrize(
    "url", ["https://kessler.example/privacy", "http://intranet.kessler.example:8080/p?q=1"]
)
def test_web_addresses_are_valid(url):
    validate_web_url(url)


@pytest.mark.parametrize(
    "url", ["ftp://kessler.example/", "mailto:a@kessler.example", "javascript:alert(1)", "kessler"]
)
def test_other_addresses_are_not(url):
    with pytest.raises(ValidationError, match="starts with https:// or http://"):
        validate_web_url(url)


# The system check.


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_production_with_active_surveys_is_warned_of_a_missing_privacy_notice_and_impressum(settings):
    settings.DEBUG = False
    LegalInformation.objects.all().delete()
    make_survey()
    warnings = check_legal_information()
    assert ids(warnings) == [NO_PRIVACY_NOTICE, NO_IMPRESSUM]
    assert all(warning.level == checks.WARNING for warning in warnings)
    assert "Legal information" in warnings[0].hint
    with pytest.raises(SystemCheckError, match=r"surveys\.W001"):
        call_command("check", "--fail-level", "WARNING")


def test_one_language_is_enough_for_the_check(settings):
    settings.DEBUG = False
    make_survey()
    set_legal_information(
        privacy_url_en=ENGLISH["privacy_url_en"], impressum_url_de=GERMAN["impressum_url_de"]
    )
    assert check_legal_information() == []
    set_legal_information(impressum_url_de=GERMAN["impressum_url_de"])
    assert ids(check_legal_information()) == [NO_PRIVACY_NOTICE]


def test_nobody_is_warned_without_active_surveys_or_in_development(settings):
    LegalInformation.objects.all().delete()
    settings.DEBUG = False
    make_survey(active=False)
    assert check_legal_information() == []
    make_survey()
    settings.DEBUG = True
    assert check_legal_information() == []


def test_a_database_that_is_not_migrated_is_no_warning(settings, monkeypatch):
    settings.DEBUG = False
    make_survey()

    def missing_table(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_of_legal_information")

    monkeypatch.setattr(LegalInformation.objects, "current", missing_table)
    assert check_legal_information() == []
    assert Survey.objects.count() == 1  # the transaction goes on after the failed query
