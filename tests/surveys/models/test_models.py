import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from surveys.models import Contact, Invitation, Response, Survey, new_token, normalise_origin
from surveys.scales import SCALES
from tests.factories import make_contact, make_invitation, make_response, make_survey


@pytest.mark.parametrize(
    ("kind", "score", "category"),
    [
        ("nps", 0, "detractor"),
        ("nps", 6, "detractor"),
        ("nps", 7, "passive"),
        ("nps", 8, "passive"),
        ("nps", 9, "promoter"),
        ("nps", 10, "promoter"),
        ("csat", 1, "dissatisfied"),
        ("csat", 2, "dissatisfied"),
        ("csat", 3, "neutral"),
        ("csat", 4, "satisfied"),
        ("csat", 5, "satisfied"),
        ("ces", 3, "difficult"),
        ("ces", 4, "neutral"),
        ("ces", 5, "easy"),
        ("ces", 7, "easy"),
    ],
)
def test_each_score_falls_into_the_category_of_the_product_brief(kind, score, category):
    assert SCALES[kind].category(score) == category


@pytest.mark.parametrize(
    ("kind", "outside"), [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 8)]
)
def test_a_score_outside_the_scale_has_no_category(kind, outside):
    with pytest.raises(ValueError, match="outside"):
        SCALES[kind].category(outside)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "outside"), [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 8)]
)
def test_the_database_refuses_a_score_outside_the_scale(kind, outside):
    survey = make_survey(kind=kind)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_response(survey=survey, score=outside)
    assert not Response.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("kind", "low", "high"), [("nps", 0, 10), ("csat", 1, 5), ("ces", 1, 7)])
def test_the_database_accepts_both_ends_of_each_scale(kind, low, high):
    survey = make_survey(kind=kind)
    make_response(survey=survey, score=low)
    make_response(survey=survey, score=high)
    assert sorted(Response.objects.values_list("score", flat=True)) == [low, high]


@pytest.mark.django_db
def test_the_database_allows_one_response_per_invitation():
    invitation = make_invitation()
    make_response(survey=invitation.survey, invitation=invitation)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_response(survey=invitation.survey, invitation=invitation)
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_contact_emails_are_unique_whatever_their_case():
    make_contact(email="Anna.Schmidt@Example.de")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_contact(email="anna.schmidt@example.de")
    assert Contact.objects.matching(email="ANNA.SCHMIDT@example.DE").count() == 1


@pytest.mark.django_db
def test_each_survey_has_its_own_unguessable_identity_secret():
    first, second = make_survey(), make_survey()
    assert first.identity_secret != second.identity_secret
    assert len(first.identity_secret) >= 43  # 256 bits, URL-safe


@pytest.mark.django_db
def test_an_identity_signature_is_the_hmac_of_email_and_external_id_in_hex():
    survey = make_survey()
    survey.identity_secret = "s3cr3t"
    # printf 'anna@example.com\nC-1001' | openssl dgst -sha256 -hmac s3cr3t
    expected = "c514dec650d8ba1e083bd6305232ba7119acb6e7fcc2673bc55fffcd0dac4dda"
    assert survey.identity_signature(email="anna@example.com", external_id="C-1001") == expected
    assert survey.signs(email="anna@example.com", external_id="C-1001", signature=expected.upper())
    assert not survey.signs(email="anna@example.com", external_id="", signature=expected)
    assert not survey.signs(email="anna@example.com", external_id="C-1001", signature="ä" + expected[1:])


@pytest.mark.django_db
def test_an_answer_is_either_a_contacts_or_claims_an_identity():
    survey = make_survey()
    make_response(survey=survey, claimed_email="anna@example.com", claimed_name="Anna")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_response(survey=survey, contact=make_contact(), claimed_email="anna@example.com")
    assert Response.objects.count() == 1


@pytest.mark.django_db
def test_a_contact_needs_an_email_or_an_external_id():
    make_contact(email="", external_id="crm-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_contact(email="", external_id="")
    assert Contact.objects.count() == 1


def test_tokens_carry_at_least_128_bits_and_do_not_repeat():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    # token_urlsafe: 6 bits per character
    assert min(len(token) for token in tokens) * 6 >= 128


@pytest.mark.django_db
def test_recording_an_answer_twice_changes_the_one_response():
    invitation = make_invitation()
    start = timezone.now()
    first = invitation.record_answer(score=4, comment=None, language="de", now=start)
    second = invitation.record_answer(
        score=9, comment="Schnelle Lieferung", language="de", now=start + timedelta(minutes=3)
    )
    assert first.pk == second.pk
    stored = Response.objects.get()
    assert (stored.score, stored.comment, stored.channel) == (9, "Schnelle Lieferung", "email")
    assert stored.created_at == start
    assert stored.updated_at == start + timedelta(minutes=3)
    invitation.refresh_from_db()
    assert invitation.answered_at == start


@pytest.mark.django_db
def test_a_score_only_answer_keeps_the_comment():
    invitation = make_invitation()
    now = timezone.now()
    invitation.record_answer(score=3, comment="Zu teuer", language="de", now=now)
    invitation.record_answer(score=5, comment=None, language="de", now=now)
    assert Response.objects.get().comment == "Zu teuer"


@pytest.mark.django_db
def test_a_response_snapshots_the_contact_and_event_properties():
    contact = make_contact(properties={"plan": "pro"})
    invitation = make_invitation(contact=contact, properties={"order_id": "A-17"})
    response = invitation.record_answer(score=10, comment="", language="en", now=timezone.now())
    contact.properties = {"plan": "free"}
    contact.save(update_fields=["properties"])
    response.refresh_from_db()
    assert response.contact_properties == {"plan": "pro"}
    assert response.event_properties == {"order_id": "A-17"}
    assert (response.kind, response.touchpoint_id) == ("nps", invitation.touchpoint_id)


@pytest.mark.django_db
def test_an_invitation_closes_when_it_expires_or_its_survey_is_switched_off():
    now = timezone.now()
    invitation = make_invitation(now=now)
    assert invitation.closed_reason(now) is None
    assert invitation.closed_reason(now + timedelta(days=30)) == "expired"
    Survey.objects.filter(pk=invitation.survey_id).update(active=False)
    invitation.survey.refresh_from_db()
    assert invitation.closed_reason(now) == "inactive"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_answers_to_one_invitation_leave_one_response():
    invitations = [make_invitation() for _ in range(10)]
    for invitation in invitations:
        barrier = threading.Barrier(2)
        results, errors = [], []

        def answer(score, invitation_id=invitation.pk, barrier=barrier, results=results, errors=errors):
            try:
                mine = Invitation.objects.select_related("survey", "contact", "touchpoint").get(
                    pk=invitation_id
                )
                barrier.wait()
                results.append(
                    mine.record_answer(score=score, comment=None, language="de", now=timezone.now())
                )
            except Exception as error:  # reported by the assertion below
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=answer, args=(score,)) for score in (3, 9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len({response.pk for response in results}) == 1
    assert Response.objects.count() == len(invitations)


@pytest.mark.django_db
def test_survey_texts_default_to_the_product_wording_with_brand_and_subject():
    nps = make_survey(kind="nps", brand="Nordwind")
    csat = make_survey(kind="csat", subject_de="Ihrer Lieferung")
    ces = make_survey(kind="ces", brand="Nordwind", question_en="Was {{ brand }} easy?")
    assert nps.question("en") == "How likely are you to recommend Nordwind to a friend or colleague?"
    assert nps.question("de") == (
        "Wie wahrscheinlich ist es, dass Sie Nordwind einem Freund oder Kollegen weiterempfehlen?"
    )
    assert csat.question("de") == "Wie zufrieden waren Sie mit Ihrer Lieferung?"
    assert ces.question("en") == "Was Nordwind easy?"
    assert ces.question("de") == "Nordwind hat es mir leicht gemacht, mein Anliegen zu erledigen."
    assert nps.follow_up("de") == "Was ist der wichtigste Grund für Ihre Bewertung?"


@pytest.mark.parametrize(
    ("accent", "text"), [("#2456a6", "#ffffff"), ("#ffd400", "#000000"), ("#000000", "#ffffff")]
)
def test_text_on_the_accent_colour_is_whichever_of_black_and_white_reads_better(accent, text):
    assert Survey(accent_color=accent).on_accent_color == text


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://Shop.Example.com", "https://shop.example.com"),
        ("https://shop.example.com:443/", "https://shop.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://shop.example.com/path", None),
        ("javascript:alert(1)", None),
        ("shop.example.com", None),
        ("https://user@shop.example.com", None),
        ("https://shop.example.com:99999", None),
        ("", None),
    ],
)
def test_widget_origins_are_normalised_or_refused(value, origin):
    assert normalise_origin(value) == origin
