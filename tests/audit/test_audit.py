"""The audit log: what is recorded, by whom and from where, and that nobody can change it."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from audit.log import Action, acting_as, pseudonymise, record
from audit.models import AppendOnly, AuditEvent
from audit.tasks import purge
from feedback import exports
from followup.models import AlertRule
from surveys import roles
from surveys.models import ApiToken, PropertyLabel
from tests.factories import (
    make_api_token,
    make_contact,
    make_staff,
    make_subscription,
    make_survey,
    make_team,
    make_touchpoint,
)

pytestmark = pytest.mark.django_db
CLIENT = "198.51.100.23"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# Signing in and out


def test_a_sign_in_is_recorded_with_the_user_and_a_pseudonym_of_the_client_never_its_address(
    client, cx_manager
):
    client.post(reverse("login"), {"username": "manager", "password": "manager-password"}, REMOTE_ADDR=CLIENT)

    [event] = events(Action.SIGNED_IN)
    assert (event.actor_id, event.actor, event.via) == (cx_manager.pk, "manager", "web")
    assert event.client == pseudonymise(CLIENT) != ""
    assert CLIENT not in str(AuditEvent.objects.values_list())


def test_a_failed_sign_in_names_a_known_user_and_only_a_keyed_hash_of_an_unknown_name(client, cx_manager):
    login = reverse("login")
    client.post(login, {"username": "manager", "password": "wrong"}, REMOTE_ADDR=CLIENT)
    client.post(login, {"username": "Sommer2026!", "password": "wrong"}, REMOTE_ADDR=CLIENT)

    known, unknown = events(Action.SIGN_IN_FAILED)
    assert (known.actor_id, known.actor, known.details) == (cx_manager.pk, "manager", {})
    assert (unknown.actor_id, unknown.actor) == (None, "")
    assert unknown.details == {"name": pseudonymise("Sommer2026!", purpose="name")}
    assert "Sommer2026!" not in str(AuditEvent.objects.values_list())
    assert not events(Action.SIGNED_IN)


def test_signing_out_is_recorded(client, cx_manager):
    client.force_login(cx_manager)
    client.post(reverse("admin:logout"))

    [event] = events(Action.SIGNED_OUT)
    assert event.actor_id == cx_manager.pk


# Exports


def test_an_export_streamed_from_the_explorer_is_recorded_with_its_format_and_filters(client, cx_manager):
    survey = make_survey()
    make_team(surveys=[survey], members=[cx_manager])
    client.force_login(cx_manager)

    answer = client.get(reverse("feedback:export_verbatims"), {"survey": survey.pk, "format": "csv"})
    b"".join(answer.streaming_content)

    [event] = events(Action.EXPORT_CREATED)
    assert (event.actor_id, event.object_type) == (cx_manager.pk, "feedback.exportrecord")
    assert event.details["format"] == "csv" and event.details["personal"] is True
    assert event.details["filters"]["survey"] == [str(survey.pk)]


def test_an_export_searching_for_a_person_keeps_only_a_keyed_hash_of_the_search(client, cx_manager):
    survey = make_survey()
    make_team(surveys=[survey], members=[cx_manager])
    client.force_login(cx_manager)

    answer = client.get(
        reverse("feedback:export_verbatims"), {"survey": survey.pk, "format": "csv", "q": "kunde@example.com"}
    )
    b"".join(answer.streaming_content)

    [event] = events(Action.EXPORT_CREATED)
    assert event.details["filters"]["q"] == [pseudonymise("kunde@example.com", purpose="filter")]
    assert "kunde@example.com" not in str(AuditEvent.objects.values_list())


def test_a_prepared_export_is_recorded_when_made_and_at_each_download(client, cx_manager):
    survey = make_survey()
    make_team(surveys=[survey], members=[cx_manager])
    export = exports.Export.from_filters({"survey": [str(survey.pk)]}, user=cx_manager, personal=True)
    prepared = exports.prepared_record(cx_manager, export, "csv", {"survey": [str(survey.pk)]})
    exports.prepare_export(record_id=prepared.pk)
    client.force_login(cx_manager)

    for _ in range(2):
        assert client.get(reverse("feedback:download_export", args=[prepared.public_id])).status_code == 200

    [made] = events(Action.EXPORT_CREATED)
    downloads = events(Action.EXPORT_DOWNLOADED)
    assert made.object_id == str(prepared.pk)
    assert [(d.object_id, d.actor_id, d.via) for d in downloads] == [
        (str(prepared.pk), cx_manager.pk, "web")
    ] * 2


# Reads of personal data through the API


def test_reading_contacts_through_the_api_is_recorded_with_the_query_and_the_count_never_the_data(
    client, cx_manager
):
    make_contact(email="kunde@example.com", name="Erika Muster")
    make_contact(email="other@example.com")
    token = make_api_token(user=cx_manager)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "REMOTE_ADDR": CLIENT}

    assert client.get("/api/v1/contacts/", {"email": "kunde@example.com"}, **headers).status_code == 200
    assert client.get("/api/v1/contacts/", **headers).status_code == 200

    first, second = events(Action.PERSONAL_DATA_READ)
    assert (first.actor_id, first.via, first.client) == (cx_manager.pk, "api", pseudonymise(CLIENT))
    assert first.details == {
        "path": "/api/v1/contacts/",
        "query": {"email": [pseudonymise("kunde@example.com", purpose="filter")]},
        "count": 1,
    }
    assert second.details["count"] == 2
    logged = str(AuditEvent.objects.values_list())
    assert "Erika Muster" not in logged and "kunde@example.com" not in logged


def test_one_contact_read_names_it_and_a_refused_read_is_not_a_read(client, cx_manager, agent):
    contact = make_contact(email="kunde@example.com")
    token = make_api_token(user=cx_manager)

    client.get(f"/api/v1/contacts/{contact.pk}/", HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/api/v1/contacts/", HTTP_AUTHORIZATION=f"Bearer {make_api_token(user=agent)}")  # 403

    [event] = events(Action.PERSONAL_DATA_READ)
    assert (event.object_type, event.object_id, event.details["count"]) == (
        "surveys.contact",
        str(contact.pk),
        1,
    )


def test_answers_read_without_personal_data_are_not_recorded_as_reads_of_it(client, analyst):
    survey = make_survey()
    make_team(surveys=[survey], members=[analyst])
    token = make_api_token(user=analyst)

    assert (
        client.get(
            "/api/v1/responses/", {"survey": survey.pk}, HTTP_AUTHORIZATION=f"Bearer {token}"
        ).status_code
        == 200
    )

    assert not events(Action.PERSONAL_DATA_READ)


# Changes of roles, teams, tokens, secrets and surveys


def test_role_changes_are_recorded_from_either_side(admin_user):
    user = make_staff("neu")
    managers = Group.objects.get(name=roles.CX_MANAGER)

    user.groups.add(managers)
    managers.user_set.remove(user)
    user.is_superuser = True
    user.save()

    added, removed, promoted = events(Action.ROLES_CHANGED)[-3:]
    assert (added.object_id, added.details) == (str(user.pk), {"groups": {"added": [roles.CX_MANAGER]}})
    assert (removed.object_id, removed.details) == (str(user.pk), {"groups": {"removed": [roles.CX_MANAGER]}})
    assert promoted.details == {"changed": {"is_superuser": [False, True]}}


def test_team_changes_name_the_members_and_surveys_added_and_removed():
    survey = make_survey(name="Lieferung")
    user = make_staff("neu")
    team = make_team("Nord")

    team.members.add(user)
    team.surveys.add(survey)
    team.members.clear()
    survey.teams.remove(team)

    changes = [event.details for event in events(Action.TEAM_CHANGED)]
    assert changes[-4:] == [
        {"members": {"added": ["neu"]}},
        {"surveys": {"added": ["Lieferung"]}},
        {"members": {"removed": ["neu"]}},
        {"surveys": {"removed": ["Lieferung"]}},
    ]


def test_tokens_and_webhook_secrets_are_recorded_when_made_and_their_secrets_never(cx_manager):
    api_token, plain = ApiToken.issue(user=cx_manager, name="Shop", write=True)
    subscription = make_subscription(owner=cx_manager)
    first_secret = subscription.secret
    subscription.rotate_secret(now=timezone.now())
    api_token.delete()

    [made] = events(Action.API_TOKEN_CREATED)
    assert made.details == {"created": True, "name": "Shop", "write": True, "user_id": cx_manager.pk}
    assert [e.object_id for e in events(Action.SECRET_CREATED)] == [str(subscription.pk)] * 2
    assert events(Action.API_TOKEN_DELETED)[0].object_repr == made.object_repr
    logged = str(AuditEvent.objects.values_list())
    for secret in (plain, first_secret, subscription.secret):
        assert secret not in logged


def test_a_survey_changed_through_the_api_is_recorded_with_the_values_before_and_after(client, cx_manager):
    survey = make_survey(name="Lieferung", brand="Nordwind")
    make_team(surveys=[survey], members=[cx_manager])
    token = make_api_token(user=cx_manager, write=True)

    answer = client.patch(
        f"/api/v1/surveys/{survey.pk}/",
        {"brand": "Nordwind Möbel"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )

    assert answer.status_code == 200, answer.content
    [event] = [e for e in events(Action.SURVEY_CHANGED) if "changed" in e.details]
    assert (event.actor_id, event.via, event.object_repr) == (cx_manager.pk, "api", "Lieferung")
    assert event.details == {"changed": {"brand": ["Nordwind", "Nordwind Möbel"]}}


def test_a_rotated_identity_secret_is_recorded_without_its_value():
    survey = make_survey()
    old = survey.identity_secret

    survey.rotate_identity_secret()

    [_created, rotated] = events(Action.SECRET_CREATED)
    assert rotated.details == {"secret": ["identity_secret"]}
    [changed] = [e for e in events(Action.SURVEY_CHANGED) if "changed" in e.details]
    assert changed.details == {"changed": {"identity_secret": ["…", "…"]}}
    assert old not in str(AuditEvent.objects.values_list()) and survey.identity_secret not in str(
        AuditEvent.objects.values_list()
    )


def test_a_touchpoint_rule_change_made_by_a_command_says_so():
    touchpoint = make_touchpoint(recontact_days=30)

    with acting_as("command"):
        touchpoint.recontact_days = 90
        touchpoint.save(update_fields=["recontact_days"])

    [event] = [e for e in events(Action.SURVEY_CHANGED) if "changed" in e.details]
    assert (event.via, event.actor_id, event.object_type) == ("command", None, "surveys.touchpoint")
    assert event.details == {"changed": {"recontact_days": [30, 90]}}


def test_saving_only_fields_the_log_does_not_watch_records_nothing(cx_manager):
    before = AuditEvent.objects.count()

    cx_manager.last_login = timezone.now()
    cx_manager.save(update_fields=["last_login"])

    assert AuditEvent.objects.count() == before


# Append-only


def test_the_application_cannot_change_or_delete_an_event():
    event = record(Action.SETTINGS_CHANGED, object_repr="legal")

    event.object_repr = "nothing happened"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(object_repr="nothing")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).object_repr == "legal"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the database's own guard is PostgreSQL's")
def test_the_database_refuses_to_change_or_delete_an_event_whoever_asks():
    event = record(Action.SETTINGS_CHANGED, object_repr="legal")

    for statement in ("UPDATE audit_auditevent SET object_repr = 'x'", "DELETE FROM audit_auditevent"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement)
    assert AuditEvent.objects.get(pk=event.pk).object_repr == "legal"


def test_the_retention_purges_events_older_than_its_period_and_only_those(
    settings, django_capture_on_commit_callbacks
):
    settings.AUDIT_LOG_RETENTION = timedelta(days=730)
    now = timezone.now()
    old = [AuditEvent.objects.create(action=Action.SIGNED_IN, at=now - timedelta(days=731)) for _ in range(3)]
    kept = AuditEvent.objects.create(action=Action.SIGNED_IN, at=now - timedelta(days=729))

    assert purge() == 3
    assert purge() == 0

    assert not AuditEvent.objects.filter(pk__in=[event.pk for event in old]).exists()
    assert AuditEvent.objects.filter(pk=kept.pk).exists()


# The back office


def test_admins_read_and_download_the_log_filtered_and_nobody_else_sees_it(client, admin_user, cx_manager):
    record(Action.SETTINGS_CHANGED, user=admin_user, object_repr='=HYPERLINK("https://evil.example")')
    record(Action.EXPORT_CREATED, user=cx_manager, object_repr="manager csv")
    changelist = reverse("admin:audit_auditevent_changelist")
    download = reverse("admin:audit_auditevent_download")

    client.force_login(cx_manager)
    assert client.get(changelist).status_code == 403
    assert client.get(download).status_code == 403
    client.force_login(admin_user)
    page = client.get(changelist)
    answer = client.get(download, {"action__exact": Action.SETTINGS_CHANGED})

    assert page.status_code == 200 and b"manager csv" in page.content
    rows = list(csv.DictReader(io.StringIO(b"".join(answer.streaming_content).decode("utf-8-sig"))))
    assert [row["action"] for row in rows] == [Action.SETTINGS_CHANGED]
    assert rows[0]["object_repr"].startswith("'=")  # no formula runs in a spreadsheet
    assert events(Action.EXPORT_DOWNLOADED)[-1].details == {
        "filters": {"action__exact": [Action.SETTINGS_CHANGED]}
    }


def test_a_change_of_the_legal_information_in_the_back_office_is_a_settings_change(client, admin_user):
    client.force_login(admin_user)
    page = reverse("admin:surveys_legalinformation_changelist")
    form = client.get(client.get(page).url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data["privacy_url_de"] = "https://www.example.com/datenschutz"

    answer = client.post(client.get(page).url, data)

    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    [event] = [e for e in events(Action.SETTINGS_CHANGED) if "changed" in e.details]
    assert (event.actor_id, event.object_type) == (admin_user.pk, "surveys.legalinformation")
    assert event.details == {"changed": {"privacy_url_de": ["", "https://www.example.com/datenschutz"]}}


def test_a_property_label_set_in_the_back_office_is_a_settings_change(client, cx_manager):
    client.force_login(cx_manager)
    data = {"name": "customer_since", "label_de": "Kunde seit", "label_en": "Customer since"}

    answer = client.post(reverse("admin:surveys_propertylabel_add"), data)

    assert answer.status_code == 302
    [event] = events(Action.SETTINGS_CHANGED)
    assert (event.actor_id, event.object_type) == (cx_manager.pk, "surveys.propertylabel")
    with translation.override("en"):
        assert PropertyLabel.objects.names() == {"customer_since": "Customer since"}
    with translation.override("de"):
        assert PropertyLabel.objects.names() == {"customer_since": "Kunde seit"}


def test_alert_rules_are_recorded_and_their_chat_addresses_never():
    survey = make_survey()
    slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    rule = AlertRule.objects.create(
        survey=survey, name="Detractors", categories=["detractor"], slack_url=slack
    )
    rule.categories = ["detractor", "passive"]
    rule.teams_url = "https://example.webhook.office.com/webhookb2/SECRET2"
    rule.save()
    rule.notify.add(make_staff("anna"))
    quiet = AlertRule.objects.create(survey=survey, name="Everything")

    created, changed, notified, second = events(Action.SETTINGS_CHANGED)[-4:]
    assert created.details["created"] and created.details["categories"] == ["detractor"]
    assert "slack_url" not in created.details
    assert changed.details == {
        "changed": {"categories": [["detractor"], ["detractor", "passive"]], "teams_url": ["…", "…"]}
    }
    assert notified.details == {"notify": {"added": ["anna"]}}
    assert second.object_id == str(quiet.pk)
    # A secret was made when the rule got an address, and only then.
    made = [e.details for e in events(Action.SECRET_CREATED) if e.object_repr == "Detractors"]
    assert made == [{"secret": ["slack_url"]}, {"secret": ["teams_url"]}]
    assert "SECRET" not in str(AuditEvent.objects.values_list())
