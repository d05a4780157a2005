from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from surveys.models import Contact, Response
from tests.factories import make_contact, make_survey, sign_identity

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return make_survey(kind="csat", subject_en="your delivery", subject_de="Ihrer Lieferung")


def url(survey, query: str = "") -> str:
    return f"/l/{survey.public_key}/{query}"


def test_opening_a_link_survey_stores_nothing(client, survey):
    page = client.get(url(survey, "?score=4&lang=en"))
    assert page.status_code == 200
    assert "How satisfied were you with your delivery?" in page.content.decode()
    assert 'id="score-4" value="4" checked' in page.content.decode()
    assert not Response.objects.exists()


def signed(survey, email: str = "", external_id: str = "") -> str:
    return quote(sign_identity(survey, email=email, external_id=external_id))


def test_a_signed_link_answer_creates_its_contact_and_keeps_the_link_properties(client, survey):
    signature = signed(survey, "Anna@Example.com", "crm-7")
    query = (
        "?email=Anna@Example.com&name=Anna&external_id=crm-7&lang=de&p_plan=pro&p_region=DE"
        f"&signature={signature}"
    )
    answer = client.post(url(survey, query), {"score": "4", "comment": "Gut"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/l/{survey.public_key}/thanks/?lang=de"
    response = Response.objects.select_related("contact").get()
    assert (response.score, response.comment, response.channel, response.language) == (4, "Gut", "link", "de")
    assert response.event_properties == {"plan": "pro", "region": "DE"}
    assert (response.contact.email, response.contact.external_id, response.contact.name) == (
        "Anna@Example.com",
        "crm-7",
        "Anna",
    )
    assert (response.claimed_email, response.claimed_external_id, response.claimed_name) == ("", "", "")
    assert "Vielen Dank für Ihr Feedback!" in client.get(answer["Location"]).content.decode()


def test_an_anonymous_link_answer_has_no_contact(client, survey):
    client.post(url(survey), {"score": "2"})
    response = Response.objects.get()
    assert response.contact is None
    assert (response.claimed_email, response.claimed_external_id, response.claimed_name) == ("", "", "")
    assert not Contact.objects.exists()


def test_an_unsigned_link_answer_keeps_who_it_claims_to_be_apart_from_the_contact(client, survey):
    contact = make_contact(email="anna@example.com", name="Anna Schmidt", properties={"plan": "enterprise"})
    before = Contact.objects.values().get()
    query = "?email=ANNA@example.com&name=Mallory&external_id=crm-7&p_page=/help"
    assert client.post(url(survey, query), {"score": "1", "comment": "Alles schlecht"}).status_code == 302
    assert Contact.objects.values().get() == before
    response = Response.objects.get()
    assert response.contact is None
    assert response.contact_properties == {}
    assert (response.claimed_email, response.claimed_external_id, response.claimed_name) == (
        "ANNA@example.com",
        "crm-7",
        "Mallory",
    )
    assert response.event_properties == {"page": "/help"}
    assert not contact.responses.exists()


def test_an_unsigned_link_answer_creates_no_contact(client, survey):
    client.post(url(survey, "?email=new@example.com&name=Neu"), {"score": "5"})
    assert not Contact.objects.exists()
    assert Response.objects.get().claimed_email == "new@example.com"


def test_a_signed_link_answer_is_the_contacts_with_their_properties_but_changes_nothing(client, survey):
    contact = make_contact(
        email="anna@example.com", external_id="crm-7", name="Anna Schmidt", properties={"plan": "enterprise"}
    )
    before = Contact.objects.values().get()
    query = f"?email=ANNA@example.com&name=Mallory&signature={signed(survey, 'ANNA@example.com')}"
    page = client.get(url(survey, query + "&lang=en"))
    assert page.status_code == 200
    # The page posts to its own address, signature included.
    assert client.post(url(survey, query + "&lang=en"), {"score": "5"}).status_code == 302
    assert Contact.objects.values().get() == before
    response = Response.objects.get()
    assert response.contact == contact
    assert response.contact_properties == {"plan": "enterprise"}
    assert (response.claimed_email, response.claimed_name) == ("", "")


def test_a_signature_of_the_external_id_alone_finds_the_contact(client, survey):
    contact = make_contact(external_id="crm-7")
    query = f"?external_id=crm-7&signature={signed(survey, external_id='crm-7')}"
    client.post(url(survey, query), {"score": "3"})
    assert Response.objects.get().contact == contact


@pytest.mark.parametrize(
    ("query", "signer"),
    [
        ("?email=anna@example.com", lambda survey: signed(survey, "mallory@example.com")),
        (
            "?email=anna@example.com&external_id=crm-8",
            lambda survey: signed(survey, "anna@example.com", "crm-7"),
        ),
        ("?email=anna@example.com", lambda survey: signed(make_survey(), "anna@example.com")),
        ("?email=anna@example.com", lambda survey: signed(survey, "anna@example.com")[:-1]),
        ("?email=anna@example.com", lambda survey: "not-a-signature"),
        ("?external_id=crm-7", lambda survey: signed(survey, "", "crm-7 ")),
    ],
)
def test_a_link_with_a_wrong_signature_is_refused_and_stores_nothing(client, survey, query, signer):
    make_contact(email="anna@example.com", external_id="crm-7")
    address = url(survey, f"{query}&signature={signer(survey)}&lang=en")
    message = "signature does not match the person it is for"
    for answer in (client.get(address), client.post(address, {"score": "4"})):
        assert answer.status_code == 400
        assert message in answer.content.decode()
    assert not Response.objects.exists()
    assert Contact.objects.count() == 1


def test_a_wrong_signature_is_refused_in_the_respondents_language(client, survey):
    answer = client.post(url(survey, "?email=anna@example.com&signature=00&lang=de"), {"score": "4"})
    assert answer.status_code == 400
    assert "Link ungültig" in answer.content.decode()
    assert not Response.objects.exists()


def test_a_rotated_identity_secret_refuses_the_old_signatures(client, survey):
    make_contact(email="anna@example.com")
    old = signed(survey, "anna@example.com")
    survey.rotate_identity_secret()
    answer = client.post(url(survey, f"?email=anna@example.com&signature={old}&lang=en"), {"score": "4"})
    assert answer.status_code == 400
    assert not Response.objects.exists()
    new = signed(survey, "anna@example.com")
    answer = client.post(url(survey, f"?email=anna@example.com&signature={new}"), {"score": "4"})
    assert answer.status_code == 302
    assert Response.objects.get().contact.email == "anna@example.com"


def test_answering_again_from_the_same_browser_within_a_day_changes_the_answer(client, survey):
    client.post(url(survey), {"score": "2", "comment": "Zu spät"})
    client.post(url(survey), {"score": "4"}, headers={"Accept": "application/json"})
    response = Response.objects.get()
    assert (response.score, response.comment) == (4, "Zu spät")
    page = client.get(url(survey)).content.decode()
    assert 'id="score-4" value="4" checked' in page


def test_another_browser_gives_another_answer(client, survey, django_app_client=None):
    from django.test import Client

    client.post(url(survey), {"score": "2"})
    Client().post(url(survey), {"score": "5"})
    assert sorted(Response.objects.values_list("score", flat=True)) == [2, 5]


def test_after_a_day_the_same_browser_gives_a_new_answer(client, survey):
    client.post(url(survey), {"score": "2"})
    Response.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    client.post(url(survey), {"score": "5"})
    assert sorted(Response.objects.values_list("score", flat=True)) == [2, 5]


def test_a_forged_memory_cookie_cannot_take_over_another_answer(client, survey):
    client.post(url(survey), {"score": "2"})
    victim = Response.objects.get()
    other = make_survey(kind="csat")
    client.cookies[f"cxs_{survey.public_key[:12]}"] = str(victim.public_id)
    client.post(url(survey), {"score": "5"})
    client.cookies[f"cxs_{other.public_key[:12]}"] = client.cookies[f"cxs_{survey.public_key[:12]}"].value
    victim.refresh_from_db()
    assert victim.score == 2
    assert Response.objects.count() == 2


def test_the_memory_cookie_is_scoped_to_the_survey_and_unreadable_by_scripts(client, survey):
    answer = client.post(url(survey), {"score": "2"})
    cookie = answer.cookies[f"cxs_{survey.public_key[:12]}"]
    assert cookie["path"] == f"/l/{survey.public_key}/"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 86400


def test_a_client_dropping_its_cookie_stores_at_most_the_links_limit_a_minute(client, survey, settings):
    assert settings.RATE_LIMITS["link"] == 10
    answers = []
    for _ in range(11):
        client.cookies.clear()
        answers.append(client.post(url(survey, "?lang=en"), {"score": "1"}))
    assert [answer.status_code for answer in answers] == [302] * 10 + [429]
    assert Response.objects.count() == 10
    refused = answers[-1]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "Too many answers came from your network in a short time." in refused.content.decode()

    # In the respondent's language, as a page or in the error shape for the page's script.
    client.cookies.clear()
    in_german = client.post(url(survey, "?lang=de"), {"score": "1"})
    assert "Aus Ihrem Netzwerk kamen in kurzer Zeit zu viele Antworten." in in_german.content.decode()
    client.cookies.clear()
    refused = client.post(url(survey, "?lang=en"), {"score": "1"}, headers={"Accept": "application/json"})
    assert refused.json()["error"]["code"] == "throttled"
    assert Response.objects.count() == 10


def test_changing_ones_answer_through_the_cookie_is_not_a_new_answer(client, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link": 1}
    statuses = [client.post(url(survey), {"score": str(score)}).status_code for score in (1, 2, 3, 4)]
    assert statuses == [302] * 4
    assert list(Response.objects.values_list("score", flat=True)) == [4]
    client.cookies.clear()
    assert client.post(url(survey), {"score": "5"}).status_code == 429


def test_the_link_limit_counts_each_survey_and_each_client_apart(client, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link": 1}
    other = make_survey(kind="csat")
    assert client.post(url(survey), {"score": "1"}).status_code == 302
    assert client.post(url(other), {"score": "1"}).status_code == 302
    client.cookies.clear()
    assert client.post(url(survey), {"score": "2"}, REMOTE_ADDR="203.0.113.50").status_code == 302
    client.cookies.clear()
    assert client.post(url(survey), {"score": "3"}).status_code == 429
    assert Response.objects.count() == 3


def test_a_refused_score_is_not_counted_as_an_answer(client, survey, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "link": 1}
    assert client.post(url(survey), {"score": "9"}).status_code == 400
    assert client.post(url(survey), {"score": "5"}).status_code == 302


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?email=not-an-address", "invalid email address"),
        ("?email=not-an-address&signature=00", "invalid email address"),
        ("?p_bad%20name=1", "not a valid property name"),
        ("?p_plan=" + "x" * 501, "longer than 500 characters"),
        ("?" + "&".join(f"p_k{n}=v" for n in range(51)), "At most 50 properties"),
        ("?p_plan=a%00b", "NUL"),
        ("?name=a%00b", "Null characters are not allowed."),
    ],
)
def test_a_link_with_bad_parameters_is_refused_with_a_message(client, survey, query, message):
    answer = client.post(url(survey, query + "&lang=en" if "?" in query else query), {"score": "4"})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not Response.objects.exists()


def test_an_unknown_language_falls_back_to_the_browser(client, survey):
    page = client.get(url(survey, "?lang=fr"), headers={"Accept-Language": "en"})
    assert "How satisfied were you with your delivery?" in page.content.decode()


def test_an_unknown_key_gets_a_not_found_page(client):
    assert client.get("/l/no-such-key/").status_code == 404


def test_an_inactive_link_survey_gets_a_friendly_page_and_stores_nothing(client):
    survey = make_survey(active=False)
    answer = client.post(url(survey, "?lang=en"), {"score": "9"})
    assert answer.status_code == 410
    assert "no longer collecting answers" in answer.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize("score", ["0", "6", "4.5", "four"])
def test_a_score_off_the_csat_scale_is_refused(client, survey, score):
    answer = client.post(url(survey, "?lang=en"), {"score": score})
    assert answer.status_code == 400
    assert "Please choose a score from 1 to 5." in answer.content.decode()
    assert not Response.objects.exists()


def test_a_malformed_key_gets_a_not_found_page(client):
    assert client.get("/l/nul%00key/").status_code == 404
