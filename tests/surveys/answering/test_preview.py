import pytest

from surveys.models import Response, Survey
from tests.factories import make_survey

pytestmark = pytest.mark.django_db


def url(survey, query: str = "") -> str:
    return f"/preview/{survey.public_key}/{query}"


def test_the_preview_shows_the_answering_page_with_the_score_chosen_and_a_banner(client):
    survey = make_survey(brand="Acme")
    page = client.get(url(survey, "?score=9&lang=en"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Preview – answers are not saved" in html
    assert "How likely are you to recommend Acme" in html
    assert 'id="score-9" value="9" checked' in html


def test_the_preview_posts_nothing_by_itself_and_has_no_form_that_stores(client):
    html = client.get(url(make_survey(), "?score=3&lang=en")).content.decode()
    assert 'data-autosubmit="false"' in html
    assert 'method="post"' not in html
    assert "csrfmiddlewaretoken" not in html
    assert "answer.js" not in html
    assert '<input type="hidden" name="lang" value="en">' in html


def test_the_preview_cannot_store_an_answer(client):
    survey = make_survey()
    assert client.post(url(survey), {"score": "9"}).status_code == 405
    assert not Response.objects.exists()


def test_the_preview_speaks_the_language_asked_for(client):
    survey = make_survey(kind=Survey.Kind.CSAT)
    html = client.get(url(survey, "?score=4&lang=de"), headers={"Accept-Language": "en"}).content.decode()
    assert '<html lang="de">' in html
    assert "Wie zufrieden waren Sie mit unserem Service?" in html


def test_an_inactive_survey_can_still_be_previewed(client):
    assert client.get(url(make_survey(active=False))).status_code == 200


def test_an_unknown_survey_has_no_preview(client):
    response = client.get("/preview/no-such-survey/", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "There is no survey at this address." in response.content.decode()
