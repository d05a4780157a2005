from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import (
    answer_by_link,
    make_contact,
    make_invitation,
    make_survey,
    make_touchpoint,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 23)
URL = "/api/v1/metrics/"


def get(client, token, **params):
    return client.get(URL, params, headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})


def answer(survey, score, day: date, *, properties=None, touchpoint=None):
    at = datetime(day.year, day.month, day.day, 12, 0, tzinfo=BERLIN)
    if touchpoint is not None:
        invitation = make_invitation(survey=survey, touchpoint=touchpoint, now=at, contact=make_contact())
        return invitation.record_answer(score=score, comment=None, language="de", now=at)
    return answer_by_link(survey, score, at, properties=properties)


def test_it_needs_a_token(client):
    assert client.get(URL).status_code == 401


def test_nps_with_interval_previous_period_and_weekly_series(client, token):
    survey = make_survey(kind="nps")
    for score in (10, 10, 9, 9, 9, 8, 7, 7, 3, 0):  # 5 promoters, 3 passives, 2 detractors
        answer(survey, score, date(2026, 11, 16))
    for score in (10, 2, 2):
        answer(survey, score, date(2026, 11, 4))
    answer(survey, 10, date(2026, 10, 20))  # the previous period

    metrics = get(client, token, survey=survey.pk, since="2026-11-01", until="2026-11-30", interval="week")
    assert metrics.status_code == 200
    body = metrics.json()
    assert (body["kind"], body["since"], body["until"], body["interval"]) == (
        "nps",
        "2026-11-01",
        "2026-11-30",
        "week",
    )
    assert (body["responses"], body["promoters"], body["passives"], body["detractors"]) == (13, 6, 3, 4)
    assert body["nps"] == pytest.approx(100 * (6 - 4) / 13)
    low, high = body["ci95"]
    assert -100 <= low < body["nps"] < high <= 100
    assert body["small_sample"] is True
    assert body["previous"]["since"] == "2026-10-02"
    assert (body["previous"]["responses"], body["previous"]["nps"]) == (1, 100.0)
    assert body["change_significant"] is False
    assert [(bucket["start"], bucket["responses"], bucket["nps"]) for bucket in body["series"]] == [
        ("2026-11-02", 3, pytest.approx(100 * (1 - 2) / 3)),
        ("2026-11-16", 10, 30.0),
    ]


def test_without_responses_the_metric_is_null_not_zero(client, token):
    survey = make_survey(kind="nps")
    body = get(client, token, survey=survey.pk).json()
    assert (body["responses"], body["nps"], body["ci95"], body["series"]) == (0, None, None, [])
    assert body["change_significant"] is None
    assert body["response_rate"] is None


def test_csat_and_ces_report_their_own_figures(client, token):
    csat, ces = make_survey(kind="csat"), make_survey(kind="ces")
    for score in (5, 4, 4, 3, 1):
        answer(csat, score, TODAY)
    for score in (7, 6, 2):
        answer(ces, score, TODAY)
    body = get(client, token, survey=csat.pk, since="2026-11-23", until="2026-11-23").json()
    assert (body["satisfied"], body["neutral"], body["dissatisfied"]) == (3, 1, 1)
    assert body["csat"] == pytest.approx(60.0)
    assert body["mean"] == pytest.approx(17 / 5)
    body = get(client, token, survey=ces.pk, since="2026-11-23", until="2026-11-23").json()
    assert (body["easy"], body["neutral"], body["difficult"]) == (2, 0, 1)
    assert body["ces"] == pytest.approx(5.0)
    assert body["easy_share"] == pytest.approx(200 / 3)


def test_a_property_filter_on_a_key_only_some_responses_have(client, token):
    survey = make_survey(kind="nps")
    answer(survey, 10, TODAY, properties={"plan": "pro"})
    answer(survey, 0, TODAY, properties={"plan": "basic"})
    answer(survey, 5, TODAY)
    body = get(
        client, token, survey=survey.pk, since="2026-11-01", until="2026-11-30", **{"property.plan": "pro"}
    )
    assert (body.json()["responses"], body.json()["nps"]) == (1, 100.0)


def test_touchpoints_filter_and_the_response_rate(client, token):
    survey = make_survey(kind="nps")
    delivery, support = make_touchpoint(survey=survey), make_touchpoint(survey=survey)
    answer(survey, 9, TODAY, touchpoint=delivery)
    answer(survey, 2, TODAY, touchpoint=support)
    now = datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)
    make_invitation(survey=survey, touchpoint=delivery, now=now)  # sent, not answered
    body = get(
        client, token, survey=survey.pk, since="2026-11-23", until="2026-11-23", touchpoint=delivery.pk
    )
    assert (body.json()["responses"], body.json()["promoters"]) == (1, 1)
    assert body.json()["response_rate"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval": "hour"}, "interval"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-11-20", "until": "2026-11-01"}, "non_field_errors"),
        ({"property.bad name": "x"}, "non_field_errors"),
        ({"property.isnull": "x"}, "non_field_errors"),
        ({"property.plan__contains": "x"}, "non_field_errors"),
        ({"property.contains": "x"}, "non_field_errors"),
        ({"property.0": "x"}, "non_field_errors"),
        ({"touchpoint": "abc"}, "touchpoint"),
    ],
)
def test_bad_filters_get_a_400_that_names_the_field(client, token, params, field):
    make_survey(kind="nps")
    answer = get(client, token, **params)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert field in error["fields"]
    assert error["message"]


@pytest.mark.parametrize("survey", ["999999", "x", "99999999999999999999"])
def test_an_unknown_survey_is_not_found(client, token, survey):
    make_survey(kind="nps")
    answer = get(client, token, survey=survey)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_the_numbers_take_a_few_queries_whatever_the_data(client, token, django_assert_max_num_queries):
    survey = make_survey(kind="nps")
    for offset in range(60):
        answer(survey, offset % 11, TODAY - timedelta(days=offset))
    # 14: the token, its user's permissions and groups (the permission check), the survey among the
    # user's, the touchpoints of the filter menu, and the dashboard's own queries.
    with django_assert_max_num_queries(14):
        body = get(client, token, survey=survey.pk, range="90d", interval="day").json()
    assert body["responses"] == 60
    assert len(body["series"]) == 60


def test_unknown_filter_values_get_a_400_that_names_them(client, token):
    survey = make_survey(kind="nps")
    answer(survey, 9, TODAY, properties={"region": "Süd"})
    answer_for_other = make_touchpoint(survey=make_survey(kind="csat"), name="Chat")
    for params, named in [
        ({"property.region": "Nord"}, "“Nord”"),
        ({"touchpoint": answer_for_other.pk}, "“Chat”"),
        ({"tag": "Nirgendwo"}, "Nirgendwo"),
    ]:
        refused = get(client, token, survey=survey.pk, **params)
        assert refused.status_code == 400, params
        assert named in str(refused.json()["error"]), params
    assert get(client, token, survey=survey.pk, **{"property.region": "Süd"}).json()["responses"] == 1


def test_without_an_interval_it_is_the_dashboards_choice(client, token):
    survey = make_survey(kind="nps")
    for offset in range(60):
        answer(survey, 9, TODAY - timedelta(days=offset % 30))  # two a day for 30 days
    body = get(client, token, survey=survey.pk, since="2026-09-01", until="2026-11-23").json()
    # No day or week holds 30, nor do the whole months September and October: the longest
    # interval offered for 84 days.
    assert body["interval"] == "month"
    assert [bucket["start"] for bucket in body["series"]] == ["2026-10-01", "2026-11-01"]
