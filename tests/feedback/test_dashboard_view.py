"""The dashboard page: who may see it, what it shows for known answers, and bad filters."""

import json
import re
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission

from feedback.models import SurveyVisit
from feedback.views import property_choices
from surveys.access import may_read_feedback
from surveys.models import PropertyLabel
from tests.factories import (
    make_contact,
    make_invitation,
    make_response,
    make_survey,
    make_touchpoint,
    take_away,
)
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
URL = "/dashboard/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script> Lieferung „pünktlich“'


def table_rows(html: str, table_id: str) -> list[list[str]]:
    match = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert match, f"no table {table_id}"
    table = match.group(1)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)
    ]


def figure(html: str, block_id: str) -> dict:
    match = re.search(rf'<script id="{block_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no figure {block_id}"
    return json.loads(match.group(1))


@pytest.fixture
def november_nps():
    """13 answers in November 2026 (6 promoters, 3 passives, 4 detractors), one in the October before."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    for score in (10, 10, 9, 9, 9, 8, 7, 7):
        answer(survey, score, date(2026, 11, 16), properties={"plan": "basic"})
    for score in (3, 0):
        answer(survey, score, date(2026, 11, 16), touchpoint=delivery, properties={"plan": "pro"})
    for score in (10, 2, 2):
        answer(survey, score, date(2026, 11, 4))
    answer(survey, 10, date(2026, 10, 20))
    return survey


# Access


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    page = client.get(URL, {"range": "90d"})
    assert page.status_code == 302
    assert page.url == "/login/?next=/dashboard/%3Frange%3D90d"


def test_signed_in_users_without_staff_rights_are_sent_to_the_login(client, non_staff):
    client.force_login(non_staff)
    page = client.get(URL)
    assert page.status_code == 302
    assert page.url.startswith("/login/?next=/dashboard/")


def test_staff_without_permissions_are_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(URL).status_code == 403


def test_staff_who_may_not_view_responses_are_refused(client, cx_manager):
    take_away(cx_manager, "view_response")
    client.force_login(cx_manager)
    assert client.get(URL).status_code == 403


def test_a_cx_manager_sees_the_dashboard_under_a_strict_content_security_policy(manager_client, november_nps):
    page = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER})
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-eval" not in policy
    html = page.content.decode()
    assert '<script src="/static/vendor/plotly/plotly-basic.min.js" defer></script>' in html
    assert "<script>" not in html  # no inline code: only JSON blocks and external files


def test_it_answers_only_get(manager_client, november_nps):
    assert manager_client.post(URL).status_code == 405


@pytest.mark.parametrize(
    ("is_staff", "is_active", "permission", "allowed"),
    [
        (True, True, True, True),
        (False, True, True, False),
        (True, True, False, False),
        (True, False, True, False),
    ],
)
def test_who_may_read_feedback(django_user_model, is_staff, is_active, permission, allowed):
    user = django_user_model.objects.create_user("someone", is_staff=is_staff, is_active=is_active)
    if permission:
        user.user_permissions.add(Permission.objects.get(codename="view_response"))
    assert may_read_feedback(django_user_model.objects.get(pk=user.pk)) is allowed


# Numbers


def test_the_headline_for_a_known_set_of_answers(manager_client, november_nps):
    html = manager_client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER, "interval": "week"}
    ).content.decode()
    # NPS = 100 × (6 − 4) / 13 = 15.4. Adjusted Wald: n' = 16, p' = 6.75/16, d' = 4.75/16,
    # a = 0.125, var = 0.703125, 1.96 × sqrt(var / 16) = 0.4109: −28.6 to 53.6.
    assert by_id(html, "headline-value") == "15.4"
    assert by_id(html, "headline-interval") == "-28.6 to 53.6"
    assert by_id(html, "headline-n") == "13"
    assert '<span id="headline-n">13</span> <span class="badge">small sample</span>' in html
    assert by_id(html, "headline-split") == "Detractors 31 % (4) Passives 23 % (3) Promoters 46 % (6)"
    # The previous period (2 to 31 October) has the one 10: NPS 100.
    assert by_id(html, "headline-change") == "−84.6"
    assert by_id(html, "headline-significance") == (
        "\u221284.6 points, not significantly different from the previous 30 days"
    )
    explanation = by_id(html, "headline-significance-explanation")
    assert "95 % confidence" in explanation
    assert "n = 13 in this period, 1 in the previous one" in explanation
    assert (
        'tabindex="0" id="headline-significance" aria-describedby="headline-significance-explanation"' in html
    )
    assert "previous period: 100.0" in html
    # Two invitations, both answered: the link answers were not invited.
    assert by_id(html, "headline-rate") == "100.0 %"
    assert "Nov. 1, 2026 to Nov. 30, 2026, compared with Oct. 2, 2026 to Oct. 31, 2026" in html


def test_the_series_table_has_every_week_with_small_samples_marked(manager_client, november_nps):
    html = manager_client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER, "interval": "week"}
    ).content.decode()
    rows = table_rows(html, "over-time-table")
    assert [row[0] for row in rows] == [
        "week of Oct. 26, 2026",
        "week of Nov. 2, 2026",
        "week of Nov. 9, 2026",
        "week of Nov. 16, 2026",
        "week of Nov. 23, 2026",
        "week of Nov. 30, 2026",  # a Monday: the period's last day starts a week
    ]
    # 10, 2, 2: n' = 6, p' = 1.75/6, d' = 2.75/6, a = −1/6, var = 0.7222: −84.7 to 51.3.
    assert rows[1] == [
        "week of Nov. 2, 2026",
        "3",
        "67 % (2)",
        "0 % (0)",
        "33 % (1)",
        "-33.3",
        "-84.7 to 51.3",
        "small sample",
    ]
    assert rows[2][1:] == ["0", "–", "–", "–", "no data", "–", "no responses"]
    assert rows[3][1] == "10" and rows[3][5] == "30.0"


def test_the_charts_carry_the_same_numbers(manager_client, november_nps):
    html = manager_client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER, "interval": "week"}
    ).content.decode()
    over_time = figure(html, "over-time-data")
    shares, counts = over_time["figures"]["share"], over_time["figures"]["count"]
    assert [trace.get("name") for trace in shares["data"]] == [
        "Detractors",
        "Passives",
        "Promoters",
        None,
        "95 % interval",
        "NPS",
        "fewer than 30 answers",
        "unfinished",
    ]
    promoters = counts["data"][2]
    assert promoters["y"] == [None, 1, None, 5, None, None]
    assert promoters["marker"]["opacity"] == [1, 0.45, 1, 0.45, 1, 1]  # small samples are lighter
    # Two panels, one scale each: the bars below on y2, the metric above on y; no overlay.
    assert {trace["yaxis"] for trace in shares["data"][:3]} == {"y2"}
    assert all("yaxis" not in trace for trace in shares["data"][3:])
    assert "overlaying" not in shares["layout"]["yaxis2"]
    assert shares["layout"]["yaxis"]["domain"][0] > shares["layout"]["yaxis2"]["domain"][1]
    # Both weeks with answers are small samples: no line through them, points of their own.
    assert shares["data"][5]["y"] == [None] * 6
    assert shares["data"][6]["y"] == [None, pytest.approx(-100 / 3), None, 30.0, None, None]
    assert shares["data"][6]["mode"] == "markers"
    assert shares["data"][7]["y"] == [None] * 6  # the period ended: nothing is unfinished
    config = over_time["config"]
    assert config["displaylogo"] is False
    assert config["modeBarButtons"] == [["toImage"]]
    assert config["toImageButtonOptions"]["filename"] == "weiterempfehlung-over-time-2026-11-01-2026-11-30"
    distribution = figure(html, "distribution-data")["figures"]["count"]
    assert [(trace["name"], trace["x"], trace["y"]) for trace in distribution["data"]] == [
        ("Detractors", ["0", "1", "2", "3", "4", "5", "6"], [1, 0, 2, 1, 0, 0, 0]),
        ("Passives", ["7", "8"], [2, 1]),
        ("Promoters", ["9", "10"], [3, 3]),
    ]
    assert [marker["marker"]["color"] for marker in distribution["data"]] == ["#d64541", "#8a8f98", "#146c43"]


def test_csat_and_ces_show_their_own_figures(manager_client):
    csat, ces = make_survey(kind="csat"), make_survey(kind="ces")
    for score in (5, 4, 4, 3, 1):
        answer(csat, score, date(2026, 11, 20))
    for score in (7, 6, 2):
        answer(ces, score, date(2026, 11, 20))
    html = manager_client.get(URL, {"survey": csat.pk, **NOVEMBER}).content.decode()
    assert by_id(html, "headline-value") == "60.0 %"
    assert "mean score 3.4" in html
    assert by_id(html, "headline-split") == "Dissatisfied 20 % (1) Neutral 20 % (1) Satisfied 60 % (3)"
    html = manager_client.get(URL, {"survey": ces.pk, **NOVEMBER}).content.decode()
    assert by_id(html, "headline-value") == "5.0"
    assert "67 % easy" in html
    assert by_id(html, "headline-split") == "Difficult 33 % (1) Neutral 0 % (0) Easy 67 % (2)"


def test_without_answers_it_says_no_data_never_zero(manager_client):
    survey = make_survey(kind="nps")
    page = manager_client.get(URL, {"survey": survey.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert by_id(html, "headline-value") == "no data"
    assert by_id(html, "headline-n") == "0"
    assert by_id(html, "headline-change") == "–"
    assert by_id(html, "headline-rate") == "–"
    assert by_id(html, "headline-split") == "Detractors – Passives – Promoters –"
    assert "No data for these filters." in html
    assert "No comments for these filters." in html
    assert "vendor/plotly/" not in html  # no chart to draw


def test_a_single_answer(manager_client):
    survey = make_survey(kind="nps")
    answer(survey, 8, date(2026, 11, 10), comment="Schnell geliefert.")
    html = manager_client.get(URL, {"survey": survey.pk, **NOVEMBER}).content.decode()
    # One passive: NPS 0, a real zero. n' = 4, p' = d' = 0.1875, var = 0.375: ±60.
    assert by_id(html, "headline-value") == "0.0"
    assert by_id(html, "headline-n") == "1"
    assert by_id(html, "headline-interval") == "-60.0 to 60.0"
    assert '<span class="badge">small sample</span>' in html
    assert by_id(html, "headline-significance") == (
        "no comparison: no answers in this period or the previous 30 days"
    )
    assert "Schnell geliefert." in by_id(html, "verbatims")


def test_filters_that_match_nothing(manager_client, november_nps):
    unused = make_touchpoint(survey=november_nps, name="Retoure")
    # Known values without answers in the period: a real "no data".
    for params in (
        {"touchpoint": unused.pk},
        {"property.plan": "pro", "range": "custom", "since": "2026-11-17"},
    ):
        page = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER, **params})
        assert page.status_code == 200
        assert by_id(page.content.decode(), "headline-value") == "no data"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"property.plan": "enterprise"}, "No answer to this survey has “enterprise” as plan."),
        ({"property.region": "Nord"}, "No answer to this survey has “Nord” as region."),
    ],
)
def test_a_property_value_no_answer_has_is_refused_by_name(manager_client, november_nps, params, message):
    page = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER, **params})
    assert page.status_code == 400
    html = unescape(page.content.decode())
    assert message in html
    assert 'id="headline-rate"' not in html  # no figure at all, least of all a response rate


def test_a_touchpoint_of_another_survey_is_refused_by_name(manager_client, november_nps):
    other = make_touchpoint(survey=make_survey(kind="csat"), name="Kundenservice")
    page = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER, "touchpoint": other.pk})
    assert page.status_code == 400
    assert "“Kundenservice” is not a touchpoint of this survey." in unescape(page.content.decode())


def test_an_unknown_tag_is_refused_by_name(manager_client, november_nps):
    page = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER, "tag": "Nirgendwo"})
    assert page.status_code == 400
    assert "Nirgendwo" in unescape(page.content.decode())


def test_a_touchpoint_filter_and_the_breakdown_by_touchpoint(manager_client, november_nps):
    delivery = november_nps.touchpoints.get()
    html = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER}).content.decode()
    # Lieferung: two detractors, NPS −100, 15 % of the answers, 115 below the overall 15: first.
    assert table_rows(html, "touchpoint-table") == [
        ["Lieferung small sample", "-100.0", "-100.0 to 24.4", "2", "15 %", "-115.4"],
        ["Link and widget small sample", "36.4", "-11.9 to 69.0", "11", "85 %", "+21.0"],
    ]
    html = manager_client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER, "touchpoint": delivery.pk}
    ).content.decode()
    assert by_id(html, "headline-n") == "2"
    assert f'name="touchpoint" value="{delivery.pk}" checked' in html


def test_a_property_filter_and_a_breakdown_by_property(manager_client, november_nps):
    params = {"survey": november_nps.pk, **NOVEMBER, "breakdown": "plan"}
    html = manager_client.get(URL, params).content.decode()
    rows = table_rows(html, "property-table")
    # Biggest problem first: "pro" (2 detractors) pulls the total down most, then the 3 answers
    # without a plan; the shares are of all 13 answers.
    assert [(row[0].split(" small")[0], row[1], row[3].split()[0], row[4]) for row in rows] == [
        ("pro", "-100.0", "2", "15 %"),
        ("(not set)", "-33.3", "3", "23 %"),
        ("basic", "62.5", "8", "62 %"),
    ]
    assert '<option value="plan" selected>plan</option>' in html
    assert '<option value="pro">pro</option>' in html

    html = manager_client.get(URL, {**params, "property.plan": "basic"}).content.decode()
    assert by_id(html, "headline-n") == "8"
    assert by_id(html, "headline-value") == "62.5"
    assert '<option value="basic" selected>basic</option>' in html


def test_latest_comments_are_escaped_and_link_to_the_explorer_with_the_filters(manager_client, november_nps):
    delivery = november_nps.touchpoints.get()
    answer(november_nps, 1, date(2026, 11, 20), touchpoint=delivery, comment=XSS, properties={"plan": "pro"})
    answer(november_nps, 10, date(2026, 11, 21), comment="Alles bestens")
    html = manager_client.get(
        URL, {"survey": november_nps.pk, "range": "90d", "touchpoint": delivery.pk, "property.plan": "pro"}
    ).content.decode()
    assert XSS not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    link = re.search(r'<a href="([^"]+)" id="all-verbatims">', html).group(1)
    assert (
        unescape(link)
        == f"/verbatims/?survey={november_nps.pk}&touchpoint={delivery.pk}&range=90d&property.plan=pro"
    )


def test_the_comments_show_detractors_first_with_score_and_touchpoint(manager_client, november_nps):
    delivery = november_nps.touchpoints.get()
    answer(november_nps, 10, date(2026, 11, 21), comment="Alles bestens")
    answer(november_nps, 2, date(2026, 11, 20), touchpoint=delivery, comment="Zu spät")
    verbatims = by_id(
        manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER}).content.decode(), "verbatims"
    )
    assert verbatims == (
        "2 Detractor Lieferung Nov. 20, 2026 Zu spät 10 Promoter Link and widget Nov. 21, 2026 Alles bestens"
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"interval": "hour"}, "Interval: Select a valid choice. hour is not one of the available choices."),
        ({"since": "2026-13-01"}, "From: Enter a valid date."),
        ({"since": "2026-11-20", "until": "2026-11-01"}, "The period must end after it starts."),
        ({"property.bad name": "x"}, "“bad name” is not a property name."),
        ({"touchpoint": "abc"}, "Touchpoints: Select a valid choice."),
        ({"breakdown": "no such thing!"}, "Breakdown by property: “no such thing!” is not a property name."),
        ({"breakdown": "isnull"}, "Breakdown by property: “isnull” is not a property name."),
    ],
)
def test_bad_filters_show_the_form_with_the_error(manager_client, november_nps, params, message):
    page = manager_client.get(URL, {"survey": november_nps.pk, **params})
    assert page.status_code == 400
    html = unescape(page.content.decode())
    assert "These filters cannot be applied" in html
    assert message in html
    assert 'id="headline-value"' not in html
    assert 'id="filters"' in html


@pytest.mark.parametrize("survey", ["999999", "x"])
def test_an_unknown_survey_is_not_found(manager_client, november_nps, survey):
    assert manager_client.get(URL, {"survey": survey}).status_code == 404


def test_a_new_installation_without_surveys_explains_itself(manager_client):
    page = manager_client.get(URL)
    assert page.status_code == 200
    assert "There is no survey yet." in page.content.decode()


def test_the_page_takes_a_bounded_number_of_queries(
    manager_client, november_nps, django_assert_max_num_queries
):
    delivery = november_nps.touchpoints.get()
    for offset in range(40):
        day = date(2026, 11, 1) + timedelta(days=offset % 30)
        answer(
            november_nps,
            offset % 11,
            day,
            properties={"plan": f"p{offset % 4}"},
            comment=f"Kommentar {offset}",
        )
        answer(november_nps, offset % 11, day, touchpoint=delivery, comment="über die Lieferung")
    params = {"survey": november_nps.pk, **NOVEMBER, "interval": "day", "breakdown": "plan"}
    # 18, 4 for the loop's figures (cases, their two durations, the uncontacted detractors), the
    # visit's upsert and the property labels, 3 for the themes (to filter by, the breakdown, and the
    # insights panel's, which counts no more without themes); one to check that the filter's value exists.
    with django_assert_max_num_queries(28):
        page = manager_client.get(URL, {**params, "property.plan": "p1"})
    assert page.status_code == 200
    with django_assert_max_num_queries(27):
        page = manager_client.get(URL, params)
    assert by_id(page.content.decode(), "headline-n") == "93"
    # Chosen for the user (the survey they look at most) and by interval (the answers per day): two more.
    with django_assert_max_num_queries(29):
        page = manager_client.get(URL, {"breakdown": "plan", **NOVEMBER})
    assert by_id(page.content.decode(), "headline-n") == "93"


def test_the_page_in_german(client, cx_manager, november_nps):
    client.force_login(cx_manager)
    html = client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER}, headers={"Accept-Language": "de"}
    ).content.decode()
    assert '<html lang="de">' in html
    assert '<label for="f-survey">Umfrage</label>' in html
    assert "Abmelden" in html
    assert "<legend>Touchpoints</legend>" in html
    assert '"separators": ",."' in html  # plotly's decimal comma


def test_the_page_in_english(manager_client, november_nps):
    html = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER}).content.decode()
    assert '<html lang="en">' in html
    for text in (
        "Survey",
        "Period",
        "Touchpoints",
        "Log out",
        "Score distribution",
        "By touchpoint",
        "Latest comments",
    ):
        assert text in html
    assert '"separators": ".,"' in html


def test_the_property_choices_come_from_the_newest_answers(django_assert_num_queries):
    survey = make_survey(kind="nps")
    for number in range(6):
        make_response(
            survey=survey,
            contact_properties={"plan": "pro" if number % 2 else "basic", "region": "DE"},
            event_properties={
                "order_id": f"NW-{number}",
                "plan": "trial" if number == 5 else "pro",
                "cart": 3,
            },
        )
    make_response(survey=make_survey(kind="nps"), contact_properties={"other": "x"})
    with django_assert_num_queries(1):
        choices = property_choices(survey)
    # The event's value wins; order numbers never repeat and are left out; so is a number.
    assert choices == {"plan": ["pro", "trial"], "region": ["DE"]}
    # The survey's dashboard properties come first, offered even when their values do not repeat.
    survey.dashboard_properties = ["region", "order_id"]
    assert list(property_choices(survey)) == ["region", "order_id", "plan"]


# What the page chooses for the user, and says about it


def test_without_a_survey_it_opens_on_the_one_the_user_looks_at_most(
    manager_client, cx_manager, november_nps
):
    busy = make_survey(kind="csat", name="A: busiest")
    today = date.today()
    for _ in range(20):
        answer(busy, 5, today)
    # No visits yet: the survey with the most answers in the last 30 days, not the first by name.
    page = manager_client.get(URL)
    assert f'<option value="{busy.pk}" selected>' in page.content.decode()
    # Each view counts; the most looked at wins from then on.
    for _ in range(2):
        manager_client.get(URL, {"survey": november_nps.pk})
    assert SurveyVisit.objects.get(user=cx_manager, survey=november_nps).visits == 2
    assert f'<option value="{november_nps.pk}" selected>' in manager_client.get(URL).content.decode()
    # An explicit survey always wins.
    html = manager_client.get(URL, {"survey": busy.pk}).content.decode()
    assert f'<option value="{busy.pk}" selected>' in html


def test_the_page_says_which_interval_it_chose_and_why(manager_client, november_nps):
    html = manager_client.get(URL, {"survey": november_nps.pk, **NOVEMBER}).content.decode()
    assert by_id(html, "interval-note") == (
        "By week, the longest interval for this period: only 0 of 4 whole weeks hold 30 answers or more."
    )
    assert '<option value="" selected>Automatic (week)</option>' in html
    html = manager_client.get(
        URL, {"survey": november_nps.pk, **NOVEMBER, "interval": "day"}
    ).content.decode()
    assert by_id(html, "interval-note") == "By day, as chosen."
    assert '<option value="day" selected>Day</option>' in html


def test_the_running_period_is_marked_unfinished(manager_client, november_nps):
    answer(november_nps, 0, date.today())
    html = manager_client.get(URL, {"survey": november_nps.pk, "interval": "day"}).content.decode()
    assert by_id(html, "unfinished-note").endswith("is unfinished: 1 answer so far")
    assert '<tr class="unfinished">' in html


def test_properties_show_under_their_labels(client, cx_manager, november_nps):
    PropertyLabel.objects.create(name="plan", label_de="Tarif", label_en="Plan")
    client.force_login(cx_manager)
    params = {"survey": november_nps.pk, **NOVEMBER, "breakdown": "plan"}
    html = client.get(URL, params, headers={"Accept-Language": "de"}).content.decode()
    assert re.search(r'<label for="f-property-\d+">Tarif</label>', html)
    assert '<option value="plan" selected>Tarif</option>' in html
    assert '<th scope="col">Tarif</th>' in html  # the breakdown's heading
    html = client.get(URL, params, headers={"Accept-Language": "en"}).content.decode()
    assert '<option value="plan" selected>Plan</option>' in html
    # Without a label, the raw name.
    PropertyLabel.objects.all().delete()
    assert '<option value="plan" selected>plan</option>' in client.get(URL, params).content.decode()


def test_the_response_rate_follows_a_property_filter(manager_client, november_nps):
    # The two touchpoint answers were invited, with plan "pro": both answered.
    delivery = november_nps.touchpoints.get()
    at = datetime(2026, 11, 16, 12, 0, tzinfo=BERLIN)
    make_invitation(
        survey=november_nps, touchpoint=delivery, now=at, contact=make_contact(properties={"plan": "basic"})
    )
    params = {"survey": november_nps.pk, **NOVEMBER}
    assert by_id(manager_client.get(URL, params).content.decode(), "headline-rate") == "66.7 %"
    html = manager_client.get(URL, {**params, "property.plan": "pro"}).content.decode()
    assert by_id(html, "headline-rate") == "100.0 %"
    html = manager_client.get(URL, {**params, "property.plan": "basic"}).content.decode()
    assert by_id(html, "headline-rate") == "0.0 %"
