"""Delighted's official Python client, pointed at a live server, does what Delighted's customers'
integrations do: every operation of the compatible API, through the client's own code."""

from datetime import UTC, datetime, timedelta

import delighted
import pytest
import requests
from delighted.errors import AuthenticationError, GeneralAPIError, ResourceValidationError
from django.utils import timezone

from delighted_compat.autopilot import run_due
from delighted_compat.models import AutopilotMembership
from followup.cases import add_note, open_case
from followup.models import ResponseTag, Tag
from surveys.models import Contact, Invitation, Response
from tests.factories import make_api_token, make_contact, make_response, make_touchpoint


@pytest.fixture
def client(live_server, project):
    return delighted.Client(api_key=project.key, api_base_url=f"{live_server.url}/delighted/v1/")


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def test_people_are_created_with_delay_and_properties_and_asked_through_the_touchpoint(client, project):
    before = timezone.now()
    person = delighted.Person.create(
        client=client,
        email="Jana.Kessler@example.com",
        name="Jana Keßler",
        delay=3600,
        properties={"customer_id": 123, "locale": "de-AT", "question_product_name": "Wärmepumpe"},
    )
    contact = Contact.objects.get(pk=int(person.id))
    assert (contact.email, contact.name, contact.language) == (
        "Jana.Kessler@example.com",
        "Jana Keßler",
        "de",
    )
    assert contact.properties["question_product_name"] == "Wärmepumpe"
    invitation = Invitation.objects.get(contact=contact)
    assert invitation.touchpoint == project.touchpoint
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.event.properties == {
        "customer_id": 123,
        "locale": "de-AT",
        "question_product_name": "Wärmepumpe",
    }
    assert (
        before + timedelta(seconds=3600)
        <= invitation.scheduled_for
        <= timezone.now() + timedelta(seconds=3600)
    )
    assert person.survey_scheduled_at == unix(invitation.scheduled_for)
    assert person.properties["customer_id"] == 123

    # Asked again within the recontact period: accepted, and silently not asked.
    again = delighted.Person.create(client=client, email="jana.kessler@example.com", delay=0)
    assert again.id == person.id and again.survey_scheduled_at is None
    assert (
        Invitation.objects.get(contact=contact, status=Invitation.Status.SKIPPED).skip_reason
        == "recently_invited"
    )

    # send=false only updates the person.
    updated = delighted.Person.create(
        client=client, email="jana.kessler@example.com", name="Jana K.", send=False
    )
    assert updated.name == "Jana K." and updated.survey_scheduled_at is None
    assert Invitation.objects.filter(contact=contact).count() == 2


def test_people_are_listed_in_pages_by_the_link_header(client, project):
    emails = [f"p{number}@example.com" for number in range(5)]
    for email in emails:
        make_contact(email=email)
    people = list(delighted.Person.list(client=client, per_page=2).auto_paging_iter())
    assert [person.email for person in people] == emails
    found = delighted.Person.list(client=client, email="P3@example.com")
    assert [person.email for person in found.auto_paging_iter()] == ["p3@example.com"]


def test_survey_responses_are_listed_with_every_filter(client, project, live_server):
    survey = project.touchpoint.survey
    other_touchpoint = make_touchpoint(survey=survey)
    jana, tom = make_contact(email="jana@example.com"), make_contact(email="tom@example.com")
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    answers = [
        make_response(
            survey=survey,
            score=score,
            contact=contact,
            touchpoint=touchpoint,
            comment=comment,
            created_at=start + timedelta(days=day),
            updated_at=start + timedelta(days=day, hours=hours),
        )
        for day, (score, contact, touchpoint, comment, hours) in enumerate(
            [
                (10, jana, project.touchpoint, "Schnell, freundlich", 80),
                (3, tom, project.touchpoint, "Lieferung kam zu spät", 1),
                (8, jana, other_touchpoint, "", 2),
                (9, tom, other_touchpoint, "Gerne wieder", 3),
            ]
        )
    ]
    ids = [str(answer.pk) for answer in answers]

    def listed(**params) -> list[str]:
        return [answer.id for answer in delighted.SurveyResponse.all(client=client, **params)]

    assert listed() == ids
    assert listed(per_page=2, page=2) == ids[2:]
    assert listed(since=unix(start + timedelta(days=1)), until=unix(start + timedelta(days=2))) == ids[1:3]
    # The first answer was changed last, more than three days after it was given.
    assert listed(updated_since=unix(start + timedelta(days=2))) == [ids[0], ids[2], ids[3]]
    assert listed(updated_until=unix(start + timedelta(days=1, hours=1))) == [ids[1]]
    assert listed(trend=str(other_touchpoint.pk)) == ids[2:]
    assert listed(person_id=str(jana.pk)) == [ids[0], ids[2]]
    assert listed(person_email="TOM@example.com") == [ids[1], ids[3]]
    assert listed(order="desc") == ids[::-1]
    assert listed(order="desc:updated_at") == [ids[0], ids[3], ids[2], ids[1]]

    first = delighted.SurveyResponse.all(client=client, expand=["person"], per_page=1)[0]
    assert isinstance(first.person, delighted.Person)
    assert (first.person.id, first.person.email) == (str(jana.pk), "jana@example.com")
    assert (first.score, first.comment, first.survey_type) == (10, "Schnell, freundlich", "nps")
    assert first.created_at == unix(start) and first.updated_at == unix(start + timedelta(hours=80))
    assert first.permalink == f"{live_server.url}/responses/{answers[0].public_id}/"
    plain = delighted.SurveyResponse.all(client=client, per_page=1)[0]
    assert plain.person == str(jana.pk) and plain.comment == "Schnell, freundlich"
    assert delighted.SurveyResponse.all(client=client, page=3) == []


def test_responses_are_added_retrieved_and_changed(client, project):
    contact = make_contact(email="jana@example.com", properties={"plan": "pro"})
    created = delighted.SurveyResponse.create(
        client=client,
        person=str(contact.pk),
        score=4,
        comment="Zu teuer, aber gut",
        person_properties={"Filiale": "Köln"},
    )
    response = Response.objects.get(pk=int(created.id))
    assert (response.score, response.comment, response.contact, response.touchpoint) == (
        4,
        "Zu teuer, aber gut",
        contact,
        project.touchpoint,
    )
    assert created.person_properties == {"plan": "pro", "Filiale": "Köln"}

    fetched = delighted.SurveyResponse.retrieve(created.id, client=client, expand=["person"])
    assert fetched.person.email == "jana@example.com"
    fetched = delighted.SurveyResponse.retrieve(created.id, client=client)
    fetched.score = 9
    fetched.person_properties = {"Filiale": "Bonn"}
    saved = fetched.save(client=client)
    response.refresh_from_db()
    assert (saved.score, response.score, response.event_properties) == (9, 9, {"Filiale": "Bonn"})
    assert response.updated_at >= response.created_at

    with pytest.raises(ResourceValidationError) as refused:
        delighted.SurveyResponse.create(client=client, person=str(contact.pk), score=11)
    body = refused.value.response.body
    assert '"score"' in body and '"status": 422' in body.replace('":422', '": 422')
    assert Response.objects.count() == 1


def test_metrics_for_a_period_equal_the_own_metrics_api(client, project, live_server):
    survey = project.touchpoint.survey
    local = timezone.get_current_timezone()
    for day, scores in enumerate([(10, 9, 8), (7, 6), (9, 8, 0)]):  # 3 promoters, 3 passives, 2 detractors
        for score in scores:
            make_response(survey=survey, score=score, created_at=datetime(2026, 2, 2 + day, 9, tzinfo=local))
    make_response(
        survey=survey, score=0, created_at=datetime(2026, 2, 9, 9, tzinfo=local)
    )  # after the period

    since, until = datetime(2026, 2, 1, tzinfo=local), datetime(2026, 2, 7, 23, 59, 59, tzinfo=local)
    metrics = delighted.Metrics.retrieve(client=client, since=unix(since), until=unix(until))
    own = requests.get(
        f"{live_server.url}/api/v1/metrics/",
        params={"survey": survey.pk, "since": "2026-02-01", "until": "2026-02-07"},
        headers={"Authorization": f"Bearer {project.key}"},
        timeout=10,
    ).json()
    assert (
        (metrics.promoter_count, metrics.passive_count, metrics.detractor_count, metrics.response_count)
        == (
            own["promoters"],
            own["passives"],
            own["detractors"],
            own["responses"],
        )
        == (3, 3, 2, 8)
    )
    # 100 · (3 − 2) / 8 = 12.5 and 3 / 8 = 37.5 %: Delighted rounded halves up, not to even.
    assert own["nps"] == 12.5 and metrics.nps == 13
    assert (metrics.promoter_percent, metrics.passive_percent, metrics.detractor_percent) == (38, 38, 25)
    assert list(metrics) == [
        "nps",
        "promoter_count",
        "promoter_percent",
        "passive_count",
        "passive_percent",
        "detractor_count",
        "detractor_percent",
        "response_count",
    ]


def test_unsubscribes_and_bounces(client, project):
    make_contact(email="bounced@example.com", bounced_at=datetime(2026, 1, 5, tzinfo=UTC))
    delighted.Unsubscribe.create(client=client, person_email="new@example.com")
    contact = Contact.objects.get(email="new@example.com")
    assert contact.unsubscribed_at is not None
    listed = delighted.Unsubscribe.all(client=client)
    assert [(row.person_id, row.email, row.unsubscribed_at) for row in listed] == [
        (str(contact.pk), "new@example.com", unix(contact.unsubscribed_at))
    ]
    assert [row.email for row in delighted.Bounce.all(client=client)] == ["bounced@example.com"]
    assert delighted.Bounce.all(client=client)[0].bounced_at == unix(datetime(2026, 1, 5, tzinfo=UTC))
    # An unsubscribed person is accepted and not asked.
    assert delighted.Person.create(client=client, email="new@example.com").survey_scheduled_at is None
    assert Invitation.objects.get(contact=contact).skip_reason == "unsubscribed"


def test_people_are_deleted_and_pending_surveys_cancelled(client, project):
    kept = delighted.Person.create(client=client, email="kept@example.com", delay=600)
    assert delighted.SurveyRequest.delete_pending(client=client, person_email="kept@example.com") == {
        "ok": True
    }
    invitation = Invitation.objects.get(contact_id=int(kept.id))
    assert (invitation.status, invitation.skip_reason) == (Invitation.Status.SKIPPED, "cancelled")

    gone = make_contact(email="gone@example.com")
    make_response(survey=project.touchpoint.survey, contact=gone, score=2, comment="Ich heiße Gone")
    assert delighted.Person.delete(client=client, id=gone.pk) == {"ok": True}
    assert not Contact.objects.filter(pk=gone.pk).exists()
    also = make_contact(email="also@example.com")
    delighted.Person.delete(client=client, email="also@example.com")
    assert not Contact.objects.filter(pk=also.pk).exists()
    with pytest.raises(GeneralAPIError) as unknown:
        delighted.Person.delete(client=client, email="nobody@example.com")
    assert unknown.value.response.status_code == 404


def test_autopilot_members_are_asked_again_and_again(client, project):
    project.autopilot_touchpoint = make_touchpoint(survey=project.touchpoint.survey, send_window=None)
    project.autopilot_days = 90
    project.save()
    configuration = delighted.AutopilotConfiguration.retrieve("email", client=client)
    assert (configuration.platform_id, configuration.active, configuration.frequency) == (
        "email",
        True,
        90 * 86400,
    )

    member = delighted.AutopilotMembership.forEmail().create(
        client=client, person_email="loyal@example.com", properties={"Tarif": "Öko"}
    )
    assert member.person["email"] == "loyal@example.com" and member.properties == {"Tarif": "Öko"}
    listed = list(delighted.AutopilotMembership.forEmail().list(client=client).auto_paging_iter())
    assert [row.person["email"] for row in listed] == ["loyal@example.com"]

    now = timezone.now()
    first = AutopilotMembership.objects.get().next_at
    assert first <= now
    assert run_due(now=now) == 1
    invitation = Invitation.objects.get(contact__email="loyal@example.com")
    assert (invitation.touchpoint, invitation.properties) == (project.autopilot_touchpoint, {"Tarif": "Öko"})
    assert AutopilotMembership.objects.get().next_at == first + timedelta(days=90)
    assert run_due(now=first + timedelta(days=89)) == 0
    assert run_due(now=first + timedelta(days=90)) == 1
    assert Invitation.objects.filter(contact__email="loyal@example.com").count() == 2

    delighted.AutopilotMembership.forEmail().delete(client=client, person_email="loyal@example.com")
    assert not AutopilotMembership.objects.exists()


def test_keys_that_are_wrong_or_lack_rights_are_refused(live_server, project, cx_manager):
    base = f"{live_server.url}/delighted/v1/"
    with pytest.raises(AuthenticationError):
        delighted.Metrics.retrieve(client=delighted.Client(api_key="wrong", api_base_url=base))
    # A token that is no project's key.
    other = make_api_token(user=cx_manager)
    with pytest.raises(AuthenticationError):
        delighted.Metrics.retrieve(client=delighted.Client(api_key=other, api_base_url=base))


def test_notes_and_tags_are_the_answers_case_notes_and_tags(client, project, admin_user):
    response = make_response(survey=project.touchpoint.survey, score=2, comment="Kaputt angekommen")
    now = timezone.now()
    case, _opened = open_case(response=response, now=now)
    first = add_note(case, by=admin_user, text="Angerufen, Ersatz geschickt", now=now)
    second = add_note(case, by=admin_user, text="Ersatz ist angekommen", now=now + timedelta(minutes=5))
    ResponseTag.objects.create(response=response, tag=Tag.objects.create(name="Lieferung"))

    plain = delighted.SurveyResponse.retrieve(str(response.pk), client=client)
    assert plain.notes == [str(first.pk), str(second.pk)] and plain.tags == ["Lieferung"]
    expanded = delighted.SurveyResponse.retrieve(str(response.pk), client=client, expand=["notes"])
    assert expanded.notes == [
        {
            "id": str(first.pk),
            "text": "Angerufen, Ersatz geschickt",
            "user_email": "admin@example.com",
            "created_at": unix(now),
        },
        {
            "id": str(second.pk),
            "text": "Ersatz ist angekommen",
            "user_email": "admin@example.com",
            "created_at": unix(now + timedelta(minutes=5)),
        },
    ]
