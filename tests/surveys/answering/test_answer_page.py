import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.utils import timezone

from surveys.models import Invitation, Response
from tests.factories import make_contact, make_invitation, make_survey
from tests.threads import at_once

pytestmark = pytest.mark.django_db


def url(invitation: Invitation, suffix: str = "") -> str:
    return f"/s/{invitation.token}/{suffix}"


@pytest.fixture
def invitation():
    return make_invitation(contact=make_contact(language="en"))


def test_opening_a_score_link_shows_the_score_chosen_but_stores_nothing(client, invitation):
    page = client.get(url(invitation, "?score=9"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="score-9" value="9" checked' in html
    assert 'data-autosubmit="true"' in html
    assert "How likely are you to recommend Acme" in html
    assert not Response.objects.exists()


def test_mail_scanners_opening_every_score_link_store_nothing(client, invitation):
    for score in range(11):
        assert client.get(url(invitation, f"?score={score}")).status_code == 200
        assert client.head(url(invitation, f"?score={score}")).status_code == 200
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.answered_at is None


def test_posting_a_score_records_it_and_thanks_the_respondent(client, invitation):
    answer = client.post(url(invitation), {"score": "9", "comment": "Fast delivery"})
    assert answer.status_code == 302
    assert answer["Location"] == url(invitation, "thanks/")
    response = Response.objects.get()
    assert (response.score, response.comment, response.channel, response.language) == (
        9,
        "Fast delivery",
        "email",
        "en",
    )
    assert response.invitation == invitation
    thanks = client.get(answer["Location"])
    assert "Thank you for your feedback!" in thanks.content.decode()


def test_the_page_script_posts_the_score_alone_and_gets_json(client, invitation):
    answer = client.post(url(invitation), {"score": "3"}, headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json() == {"saved": True, "score": 3}
    assert Response.objects.get().score == 3


def test_answering_again_changes_the_one_response(client, invitation):
    client.post(url(invitation), {"score": "3", "comment": "Slow"})
    client.post(url(invitation), {"score": "8"}, headers={"Accept": "application/json"})
    client.post(url(invitation), {"score": "8"}, headers={"Accept": "application/json"})  # double-click
    response = Response.objects.get()
    assert (response.score, response.comment) == (8, "Slow")
    client.post(url(invitation), {"score": "10", "comment": ""})
    response.refresh_from_db()
    assert (response.score, response.comment) == (10, "")
    assert response.updated_at >= response.created_at


def test_the_page_shows_a_stored_answer_without_posting_it_again(client, invitation):
    client.post(url(invitation), {"score": "7", "comment": "<b>ok</b>"})
    page = client.get(url(invitation)).content.decode()
    assert 'id="score-7" value="7" checked' in page
    assert 'data-autosubmit="false"' in page
    assert "&lt;b&gt;ok&lt;/b&gt;" in page


def test_a_comment_is_stored_exactly_as_typed_and_escaped_on_the_page(client, invitation):
    typed = '  <script>alert("x")</script>\nÄrger über die Lieferung 🚚 \u202e  '
    client.post(url(invitation), {"score": "2", "comment": typed})
    assert Response.objects.get().comment == typed
    page = client.get(url(invitation)).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


@pytest.mark.parametrize("score", ["11", "-1", "9.5", "nine", "1e309", "", "0x9", "NaN"])
def test_a_score_that_is_not_on_the_scale_is_refused_with_a_message(client, invitation, score):
    answer = client.post(url(invitation), {"score": score, "comment": "hi"})
    assert answer.status_code == 400
    assert "Please choose a score from 0 to 10." in answer.content.decode()
    assert not Response.objects.exists()


def test_a_missing_score_is_refused_in_json_for_the_script(client, invitation):
    answer = client.post(url(invitation), {}, headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "Please choose a score from 0 to 10."


def test_a_comment_over_5000_characters_is_refused(client, invitation):
    answer = client.post(url(invitation), {"score": "5", "comment": "x" * 5001})
    assert answer.status_code == 400
    assert "Please shorten your comment to 5000 characters (it has 5001)." in answer.content.decode()
    assert not Response.objects.exists()


def test_a_comment_of_exactly_5000_characters_is_kept(client, invitation):
    assert client.post(url(invitation), {"score": "5", "comment": "x" * 5000}).status_code == 302
    assert len(Response.objects.get().comment) == 5000


def test_a_nul_character_in_the_comment_is_refused(client, invitation):
    answer = client.post(url(invitation), {"score": "5", "comment": "a\x00b"})
    assert answer.status_code == 400
    assert "NUL" in answer.content.decode()
    assert not Response.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"score=5&comment=%ED%A0%80", b"score=5&comment=%FF%FE", b"score=5&comment=\xc3"]
)
def test_invalid_utf8_or_a_lone_surrogate_is_refused(client, invitation, raw):
    answer = client.post(url(invitation), raw, content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 400
    assert "not valid text" in answer.content.decode()
    assert not Response.objects.exists()


def test_a_post_without_csrf_token_is_refused_with_an_explanation(invitation):
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "de"})
    answer = client.post(url(invitation), {"score": "9"})
    assert answer.status_code == 403
    assert "Bitte laden Sie die Seite neu" in answer.content.decode()
    assert not Response.objects.exists()


def test_a_post_with_the_page_csrf_token_is_accepted(invitation):
    client = Client(enforce_csrf_checks=True)
    client.get(url(invitation))
    token = client.cookies["csrftoken"].value
    assert client.post(url(invitation), {"score": "9", "csrfmiddlewaretoken": token}).status_code == 302
    assert Response.objects.count() == 1


@pytest.mark.parametrize("token", ["unknown-token-abc", "x" * 65, "%00", "t%C3%B6ken%20"])
def test_an_unknown_or_malformed_token_gets_the_same_not_found_page(client, token):
    answer = client.get(f"/s/{token}/", headers={"Accept-Language": "de"})
    assert answer.status_code == 404
    assert "Dieser Umfragelink ist nicht gültig." in answer.content.decode()


def test_a_skipped_invitation_cannot_be_answered(client):
    invitation = make_invitation(status=Invitation.Status.SKIPPED, skip_reason="not_sampled")
    assert client.post(url(invitation), {"score": "9"}).status_code == 404
    assert not Response.objects.exists()


def test_an_expired_invitation_gets_a_friendly_page_and_stores_nothing(client):
    invitation = make_invitation(now=timezone.now() - timedelta(days=31), contact=make_contact(language="de"))
    answer = client.post(url(invitation), {"score": "9"})
    assert answer.status_code == 410
    assert "Die Zeit für die Teilnahme an dieser Umfrage ist abgelaufen." in answer.content.decode()
    assert client.get(url(invitation, "?score=9")).status_code == 410
    assert not Response.objects.exists()


def test_an_inactive_survey_gets_a_friendly_page_and_stores_nothing(client):
    invitation = make_invitation(survey=make_survey(active=False), contact=make_contact(language="en"))
    answer = client.post(url(invitation), {"score": "9"})
    assert answer.status_code == 410
    assert "no longer collecting answers" in answer.content.decode()
    assert not Response.objects.exists()


def test_the_page_speaks_the_contacts_language_before_the_browsers(client):
    invitation = make_invitation(contact=make_contact(language="de"))
    page = client.get(url(invitation), headers={"Accept-Language": "en"})
    assert page["Content-Language"] == "de"
    assert '<html lang="de">' in page.content.decode()
    assert "Äußerst unwahrscheinlich" in page.content.decode()


def test_without_a_contact_language_the_page_follows_the_browser(client):
    invitation = make_invitation(contact=make_contact(language=""))
    page = client.get(url(invitation), headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "Not at all likely" in page.content.decode()
    page = client.get(url(invitation), headers={"Accept-Language": "fr"})
    assert "Äußerst unwahrscheinlich" in page.content.decode()  # the installation's default, de


def test_a_next_link_to_another_host_is_refused(client, invitation):
    for target in ["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        answer = client.post(url(invitation, f"?next={target}"), {"score": "9"})
        assert answer.status_code == 400, target
        assert "another website" in answer.content.decode()
    assert not Response.objects.exists()


def test_a_next_link_to_this_site_or_the_surveys_own_site_is_followed(client):
    survey = make_survey(widget_origins="https://shop.example.com")
    invitation = make_invitation(survey=survey)
    assert client.post(url(invitation, "?next=/done/"), {"score": "9"})["Location"] == "/done/"
    answer = client.post(url(invitation, "?next=https://shop.example.com/thanks"), {"score": "9"})
    assert answer["Location"] == "https://shop.example.com/thanks"


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_other_methods_are_not_allowed(client, invitation, method):
    assert getattr(client, method)(url(invitation)).status_code == 405
    assert not Response.objects.exists()


def test_respondent_pages_send_no_referrer_and_allow_only_their_own_resources(client, invitation):
    for page in [url(invitation), url(invitation, "thanks/"), "/s/unknown/"]:
        headers = client.get(page)
        assert headers["Referrer-Policy"] == "same-origin"
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy


def test_the_answer_page_with_its_assets_stays_small_and_on_this_host(client, invitation):
    html = client.get(url(invitation, "?score=9")).content.decode()
    resources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert resources, "the page links its stylesheet and script"
    assert all(resource.startswith("/") and not resource.startswith("//") for resource in resources)
    assets = [finders.find("cxsurvey/respondent.css"), finders.find("cxsurvey/answer.js")]
    assert len(html.encode()) + sum(Path(asset).stat().st_size for asset in assets) < 100 * 1024


def test_too_many_posts_from_one_client_are_slowed_down(client, invitation, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "answer": 3}
    statuses = [client.post(url(invitation), {"score": "9"}).status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]
    assert 1 <= int(client.post(url(invitation), {"score": "9"})["Retry-After"]) <= 60


def test_guessing_tokens_is_slowed_down(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "unknown_token": 5}
    statuses = [client.get(f"/s/guess-{n}/").status_code for n in range(6)]
    assert statuses == [404] * 5 + [429]


def test_clients_behind_a_trusted_proxy_are_told_apart(client, invitation, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "answer": 1}
    settings.TRUSTED_PROXY_COUNT = 1
    first = client.post(url(invitation), {"score": "9"}, headers={"X-Forwarded-For": "203.0.113.1"})
    second = client.post(url(invitation), {"score": "9"}, headers={"X-Forwarded-For": "203.0.113.2"})
    spoofed = client.post(
        url(invitation), {"score": "9"}, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.2"}
    )
    assert (first.status_code, second.status_code, spoofed.status_code) == (302, 302, 429)


def test_an_ipv6_client_is_slowed_down_however_it_varies_its_address_in_its_64(client, invitation, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "answer": 2}
    statuses = [
        client.post(url(invitation), {"score": "9"}, REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code
        for n in range(1, 4)
    ]
    assert statuses == [302, 302, 429]
    neighbour = client.post(url(invitation), {"score": "9"}, REMOTE_ADDR="2001:db8:1:3::1")
    assert neighbour.status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_two_simultaneous_submissions_leave_one_response():
    for _ in range(5):
        invitation = make_invitation()

        def submit(score, token=invitation.token):
            return Client().post(f"/s/{token}/", {"score": score}).status_code

        statuses = at_once(submit, ("2", "10"))
        assert statuses == [302, 302]
        assert Response.objects.filter(invitation=invitation).count() == 1


def test_a_body_over_the_upload_limit_gets_a_page_in_the_respondents_language(client, invitation):
    answer = client.post(
        url(invitation),
        f"score=5&comment={'x' * 3_000_000}",
        content_type="application/x-www-form-urlencoded",
        headers={"Accept-Language": "de"},
    )
    assert answer.status_code == 400
    assert "Bitte gehen Sie zurück" in answer.content.decode()
    assert not Response.objects.exists()


def test_the_page_of_an_invitation_names_what_its_event_is_about_and_a_link_the_brand(client):
    survey = make_survey(
        brand="Acme",
        question_en="How likely are you to recommend {{ properties.product|default:brand }}?",
        thank_you_en="Thank you for rating {{ properties.product|default:'us' }}.",
    )
    invitation = make_invitation(
        survey=survey, contact=make_contact(language="en"), properties={"product": "the WP-300"}
    )
    assert "How likely are you to recommend the WP-300?" in client.get(url(invitation)).content.decode()
    client.post(url(invitation), {"score": "9"})
    assert "Thank you for rating the WP-300." in client.get(url(invitation, "thanks/")).content.decode()
    link = client.get(f"/l/{survey.public_key}/", headers={"Accept-Language": "en"})
    assert "How likely are you to recommend Acme?" in link.content.decode()
