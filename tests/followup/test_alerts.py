"""Alert rules at work: an answer is queued in its transaction, evaluated by the worker, and a
rule that matches fires once, opens the case, tags, emails, posts to chat and queues webhooks."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from followup import alerts
from followup.cases import change_case
from followup.models import Alert, AlertRule, Case, CaseEntry, ChatPost, Evaluation, ResponseTag, Tag
from followup.rules import dry_run
from surveys import roles
from surveys.models import Response
from surveys.terms import comment_fields
from tests.factories import (
    answer_by_link,
    make_contact,
    make_invitation,
    make_staff,
    make_subscription,
    make_survey,
    make_team,
    make_touchpoint,
)
from webhooks.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Lieferung")


@pytest.fixture
def anna(survey):
    """A CX manager of the survey's team, told of alerts by email."""
    anna = make_staff("anna", roles.CX_MANAGER)
    make_team("Service", surveys=[survey], members=[anna])
    return anna


def make_rule(survey, **fields) -> AlertRule:
    notify, tags, touchpoints = (
        fields.pop("notify", []),
        fields.pop("tags", []),
        fields.pop("touchpoints", []),
    )
    fields.setdefault("name", "Detractors")
    rule = AlertRule.objects.create(survey=survey, active=fields.pop("active", True), **fields)
    rule.notify.set(notify)
    rule.tags.set(tags)
    rule.touchpoints.set(touchpoints)
    return rule


def run_worker() -> int:
    """What the worker does after the commit: every due evaluation, and what it says to send."""
    return alerts.evaluate_due()


def test_a_detractors_answer_on_the_answering_page_opens_a_case_emails_posts_and_queues_webhooks(
    client, survey, anna, smtp, chat_receiver
):
    owner = make_staff("integrator", roles.CX_MANAGER)
    make_team("Integration", surveys=[survey], members=[owner])
    subscription = make_subscription(owner=owner, events=["alert.fired", "case.created"])
    tag = Tag.objects.create(name="Rückruf")
    rule = make_rule(
        survey,
        categories=["detractor"],
        assignee=anna,
        sla_hours=24,
        notify=[anna],
        tags=[tag],
        slack_url=chat_receiver.url("/slack"),
        teams_url=chat_receiver.url("/teams"),
        send_webhook=True,
    )
    invitation = make_invitation(survey=survey, contact=make_contact(language="en"))

    client.post(f"/s/{invitation.token}/", {"score": "3"}, headers={"Accept": "application/json"})
    client.post(f"/s/{invitation.token}/", {"score": "3", "comment": "The parcel came <late>"})
    response = Response.objects.get(invitation=invitation)
    assert not Case.objects.exists()  # nothing but the queue in the answering requests
    assert Evaluation.objects.filter(response=response).count() == 2

    run_worker()

    case = Case.objects.get(response=response)
    assert (case.rule, case.assignee, case.status) == (rule, anna, Case.Status.NEW)
    assert case.due_at == case.created_at + timedelta(hours=24)
    assert Alert.objects.get(rule=rule, response=response).notified_at is not None
    assert ResponseTag.objects.get(response=response, tag=tag).rule == rule
    [email] = smtp.messages
    assert email["To"] == "anna@example.com"
    body = email.get_body(("plain",)).get_content()
    assert f"/responses/{response.public_id}/" in body
    assert "The parcel came <late>" in body
    html = email.get_body(("html",)).get_content()
    assert "&lt;late&gt;" in html and "<late>" not in html
    posts = dict(chat_receiver.posts)
    assert set(posts) == {"/slack", "/teams"}
    assert "&lt;late&gt;" in posts["/slack"]["blocks"][0]["text"]["text"]
    assert posts["/slack"]["blocks"][1]["elements"][0]["url"].endswith(f"/responses/{response.public_id}/")
    assert posts["/teams"]["@type"] == "MessageCard"
    assert not ChatPost.objects.exists()
    messages = {
        message.type: message.payload["data"] for message in Message.objects.filter(subscription=subscription)
    }
    assert set(messages) == {"alert.fired", "case.created"}
    assert messages["alert.fired"]["case_id"] == str(case.public_id)
    assert messages["case.created"]["assignee"] == {"id": anna.pk, "username": "anna"}
    assert "comment" not in messages["alert.fired"] and "contact" not in messages["case.created"]


def test_a_rule_fires_once_per_answer_however_often_the_answer_is_evaluated(survey, anna, smtp):
    rule = make_rule(survey, score_max=6, notify=[anna])
    response = answer_by_link(survey, 2, timezone.now())
    Evaluation.objects.create(response=response)  # a retried evaluation of the same answer
    response.revise(score=1, comment="Schlecht", now=timezone.now())

    run_worker()
    # A worker that claimed before the others committed evaluates again: nothing more happens.
    Evaluation.objects.create(response=response)
    run_worker()

    assert Alert.objects.filter(rule=rule, response=response).count() == 1
    assert Case.objects.filter(response=response).count() == 1
    assert len(smtp.messages) == 1
    assert not Evaluation.objects.exists()


def test_a_survey_without_active_rules_costs_an_answer_one_query_and_writes_nothing(survey):
    make_rule(survey, active=False)
    with CaptureQueriesContext(connection) as queries:
        answer_by_link(survey, 2, timezone.now())
    assert len([query for query in queries if "followup_" in query["sql"]]) == 1
    assert not Evaluation.objects.exists()


def test_a_revised_score_is_a_line_on_the_case_and_may_fire_rules_that_had_not(survey):
    low = make_rule(survey, name="Low", score_max=6)
    worse = make_rule(survey, name="Very low", score_max=2)
    response = answer_by_link(survey, 5, timezone.now())
    run_worker()
    response.revise(score=1, comment=None, now=timezone.now())
    run_worker()

    case = Case.objects.get(response=response)
    assert case.rule == low
    line = case.entries.get(kind=CaseEntry.Kind.SCORE_CHANGED)
    assert line.details == {"from": 5, "to": 1}
    assert set(Alert.objects.filter(response=response).values_list("rule", flat=True)) == {low.pk, worse.pk}


def test_a_comment_added_after_the_score_fires_a_rule_on_its_words(survey):
    rule = make_rule(survey, words="Lieferung\nzu spät")
    response = answer_by_link(survey, 8, timezone.now(), language="de")
    run_worker()
    assert not Alert.objects.exists()
    response.revise(score=None, comment="Die Lieferungen kommen immer zu spät", now=timezone.now())
    run_worker()
    assert Alert.objects.get().rule == rule
    assert not CaseEntry.objects.filter(kind=CaseEntry.Kind.SCORE_CHANGED).exists()


def test_a_drop_counts_against_the_same_contacts_previous_answer_only(survey):
    rule = make_rule(survey, score_drop=4, open_case=False)
    touchpoint = make_touchpoint(survey=survey)
    contact = make_contact()
    earlier = timezone.now() - timedelta(days=10)
    make_invitation(survey=survey, touchpoint=touchpoint, contact=contact).record_answer(
        score=9, comment="", language="de", now=earlier
    )
    dropped = make_invitation(survey=survey, touchpoint=touchpoint, contact=contact).record_answer(
        score=4, comment="", language="de", now=timezone.now()
    )
    stranger = make_invitation(survey=survey, touchpoint=touchpoint).record_answer(
        score=1, comment="", language="de", now=timezone.now()
    )
    run_worker()
    assert list(Alert.objects.values_list("response", flat=True)) == [dropped.pk]
    assert not Case.objects.exists()
    assert stranger.pk != dropped.pk and rule.alerts.count() == 1


def test_a_digest_rules_alert_waits_untold_and_sends_no_email(survey, anna, smtp):
    make_rule(survey, score_max=6, notify=[anna], delivery=AlertRule.Delivery.DIGEST)
    answer_by_link(survey, 2, timezone.now())
    run_worker()
    assert Alert.objects.get().notified_at is None
    assert smtp.messages == []


def test_an_email_the_mail_server_refuses_is_sent_again_by_the_sweep(survey, anna, smtp):
    make_rule(survey, score_max=6, notify=[anna])
    smtp.replies["anna@example.com"] = "451 4.3.0 Try again later"
    answer_by_link(survey, 2, timezone.now())
    run_worker()
    alert = Alert.objects.get()
    assert alert.notified_at is None and Case.objects.exists()  # recorded, though not told

    del smtp.replies["anna@example.com"]
    alerts.deliver_pending(now=timezone.now() + timedelta(minutes=1))
    alert.refresh_from_db()
    assert alert.notified_at is not None
    assert len(smtp.messages) == 1


def test_a_failed_chat_post_waits_and_is_posted_again_as_the_answer_is_then(survey, chat_receiver):
    chat_receiver.failures = 1
    make_rule(survey, score_max=6, slack_url=chat_receiver.url("/slack"))
    response = answer_by_link(survey, 2, timezone.now(), comment="Anna Schmidt, Tel. 0171 234567")
    run_worker()
    post = ChatPost.objects.get()
    assert post.attempts == 1 and "500" in post.last_error
    Response.objects.filter(pk=response.pk).update(comment="", **comment_fields("", ""))  # erased meanwhile

    alerts.deliver_pending(now=post.next_attempt_at)

    assert not ChatPost.objects.exists()
    (_path, first), (_path, second) = chat_receiver.posts
    assert "0171" in json.dumps(first) and "0171" not in json.dumps(second)


def test_an_existing_tag_on_the_answer_is_kept(survey):
    tag = Tag.objects.create(name="Lieferung")
    response = answer_by_link(survey, 2, timezone.now())
    ResponseTag.objects.create(response=response, tag=tag)
    make_rule(survey, score_max=6, tags=[tag])
    Evaluation.objects.create(response=response)
    run_worker()
    assert ResponseTag.objects.get(response=response, tag=tag).rule is None


def test_the_dry_runs_count_equals_what_the_rule_then_does(survey):
    touchpoint = make_touchpoint(survey=survey)
    now = timezone.now()
    rule = make_rule(
        survey, active=False, categories=["detractor"], words="Lieferung", touchpoints=[touchpoint]
    )
    for day, score, comment in [
        (1, 3, "Lieferung zu spät"),
        (2, 5, "Die Lieferungen waren beschädigt"),
        (3, 9, "Lieferung pünktlich"),
        (4, 2, "Preis zu hoch"),
        (40, 1, "Lieferung verloren"),  # before the period
    ]:
        make_invitation(survey=survey, touchpoint=touchpoint).record_answer(
            score=score, comment=comment, language="de", now=now - timedelta(days=day)
        )
    answer_by_link(survey, 1, now, comment="Lieferung kaputt", language="de")  # no touchpoint

    result = dry_run(rule, now=now)
    assert result.count == 2
    assert [response.score for response in result.sample] == [3, 5]

    rule.active = True
    rule.save()
    Evaluation.objects.bulk_create(Evaluation(response=response) for response in Response.objects.all())
    run_worker()
    fired = Alert.objects.filter(rule=rule, response__created_at__gte=result.since)
    assert fired.count() == result.count


def test_case_changes_are_webhook_events(survey, anna):
    subscription = make_subscription(owner=anna, events=["case.created", "case.updated", "case.resolved"])
    make_rule(survey, score_max=6)
    answer_by_link(survey, 2, timezone.now())
    run_worker()
    case = Case.objects.get()
    now = timezone.now()
    change_case(case, by=anna, now=now, assignee=anna)
    change_case(case, by=anna, now=now, status=Case.Status.RESOLVED, resolution=Case.Resolution.SOLVED)
    change_case(case, by=anna, now=now, status=Case.Status.NO_ACTION)  # closed already: a change

    messages = list(Message.objects.filter(subscription=subscription).order_by("pk"))
    assert [message.type for message in messages] == [
        "case.created",
        "case.updated",
        "case.resolved",
        "case.updated",
    ]
    resolved = messages[2].payload["data"]
    assert (resolved["status"], resolved["resolution"], resolved["id"]) == (
        "resolved",
        "solved",
        str(case.public_id),
    )
    assert resolved["links"]["case"].endswith(f"/cases/{case.public_id}/")


def test_case_events_are_not_sent_to_an_owner_who_may_not_view_cases(survey):
    owner = make_staff("someone")  # no role
    make_subscription(owner=owner, events=["case.created"])
    make_rule(survey, score_max=6)
    answer_by_link(survey, 2, timezone.now())
    run_worker()
    assert Case.objects.exists()
    assert not Message.objects.exists()


def test_erasing_a_contact_deletes_the_alert_and_case_messages_about_their_answers(survey, anna):
    from privacy.erasure import erase_contact

    make_subscription(owner=anna, events=["alert.fired", "case.created"], include_comments=True)
    make_rule(survey, score_max=6, send_webhook=True)
    contact = make_contact()
    make_invitation(survey=survey, contact=contact).record_answer(
        score=2, comment="Zu spät", language="de", now=timezone.now()
    )
    run_worker()
    assert set(Message.objects.values_list("type", flat=True)) == {"alert.fired", "case.created"}

    erase_contact(contact_id=contact.pk)

    assert not Message.objects.exists()


class EndOfLoop(Exception):
    pass


def test_without_a_broker_runtasks_evaluates_the_queued_answers(survey, monkeypatch):
    from django.core.management import call_command

    from cxsurvey.management.commands import runtasks

    def stop(seconds):
        raise EndOfLoop

    monkeypatch.setattr(runtasks.time, "sleep", stop)
    make_rule(survey, score_max=6)
    response = answer_by_link(survey, 2, timezone.now())
    with pytest.raises(EndOfLoop):
        call_command("runtasks")
    assert Case.objects.filter(response=response).exists()
    assert not Evaluation.objects.exists()


def test_evaluating_an_answer_against_20_rules_costs_a_few_queries_per_rule_that_fires(survey, anna):
    tag = Tag.objects.create(name="Lieferung")
    for number in range(20):
        fires = number % 2 == 1
        make_rule(
            survey,
            name=f"Rule {number:02}",
            score_max=6 if fires else None,
            categories=[] if fires else ["promoter"],
            open_case=number < 5,
            delivery=AlertRule.Delivery.DIGEST,
            tags=[tag],
            notify=[anna],
        )
    answer_by_link(survey, 2, timezone.now(), comment="Lieferung")
    with CaptureQueriesContext(connection) as queries:
        run_worker()
    assert Alert.objects.count() == 10
    assert len(queries) <= 12 + 5 * 10


def test_only_users_who_may_read_the_surveys_answers_are_emailed(survey, anna, smtp):
    stranger = make_staff("stranger", roles.CX_MANAGER)
    make_team("Elsewhere", surveys=[make_survey()], members=[stranger])
    make_rule(survey, score_max=6, notify=[anna, stranger])
    answer_by_link(survey, 2, timezone.now())
    run_worker()
    assert [message["To"] for message in smtp.messages] == ["anna@example.com"]
