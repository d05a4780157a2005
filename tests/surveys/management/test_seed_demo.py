import io
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max, Min, Sum
from django.utils import timezone

from surveys.management.commands.seed_demo import OPENERS
from surveys.models import Contact, Invitation, PropertyLabel, PropertyScore, Response, Survey, Touchpoint
from surveys.scales import SCALES
from tests.factories import make_touchpoint

pytestmark = pytest.mark.django_db

CONTACTS = 200
RESPONSES = 600
# The comment tone each category calls for, written out here rather than taken from the command.
TONE_OF_CATEGORY = {
    "detractor": "negative",
    "passive": "neutral",
    "promoter": "positive",
    "dissatisfied": "negative",
    "neutral": "neutral",
    "satisfied": "positive",
    "difficult": "negative",
    "easy": "positive",
}


@pytest.fixture(autouse=True)
def development(settings):
    """A development installation, as ``make run`` seeds it (the test runner turns DEBUG off)."""
    settings.DEBUG = True


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", contacts=CONTACTS, responses=RESPONSES, stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Survey, Touchpoint, Contact, Invitation, Response, get_user_model())
    }


def opener_tone(comment: str, language: str) -> str | None:
    """The tone whose opener begins the comment, or None if no opener does."""
    for tone, openers in OPENERS.items():
        if comment.startswith(openers[language]):
            return tone
    return None


def seeded_answers(output: str) -> int:
    """The answers asked for, and those of customers who answered again after their case was
    solved (followup.demo), which the output counts."""
    later = re.search(r"(\d+) later answers", output)
    assert later is not None
    return RESPONSES + int(later[1])


def test_it_creates_the_requested_numbers_of_contacts_and_responses():
    output = seed()
    assert Contact.objects.count() == CONTACTS
    assert Response.objects.count() == seeded_answers(output)
    assert Invitation.objects.count() > Response.objects.filter(channel="email").count()


def test_it_creates_one_active_survey_of_each_kind_with_touchpoints():
    seed()
    site = urlsplit(settings.SITE_URL)
    site_origin = f"{site.scheme}://{site.netloc}"
    assert sorted(Survey.objects.values_list("kind", flat=True)) == ["ces", "csat", "nps"]
    assert Touchpoint.objects.count() >= 5
    for survey in Survey.objects.all():
        assert survey.active
        assert survey.brand == "Nordwind Möbel"
        assert survey.touchpoints.exists()
        assert survey.allowed_origins() == {site_origin}


def test_the_csat_question_names_its_subject_in_both_languages():
    seed()
    csat = Survey.objects.get(kind="csat")
    assert csat.question("de") == "Wie zufrieden waren Sie mit unserem Kundenservice?"
    assert csat.question("en") == "How satisfied were you with our customer service?"


def test_every_score_lies_in_its_scale_and_every_category_occurs():
    seed()
    for kind, scale in SCALES.items():
        responses = Response.objects.filter(kind=kind, survey__kind=kind)
        bounds = responses.aggregate(low=Min("score"), high=Max("score"))
        assert scale.low <= bounds["low"] <= bounds["high"] <= scale.high
        categories = {scale.category(score) for score in responses.values_list("score", flat=True)}
        assert categories == {category.code for category in scale.categories}


def test_responses_spread_over_eighteen_months_up_to_now():
    seed()
    now = timezone.now()
    bounds = Response.objects.aggregate(oldest=Min("created_at"), newest=Max("created_at"))
    assert bounds["oldest"] < now - timedelta(days=456)
    assert now - timedelta(days=31) < bounds["newest"] < now


def test_email_responses_come_from_their_answered_invitation():
    seed()
    email = Response.objects.filter(channel="email").select_related("invitation")
    assert email.exists()
    for response in email:
        invitation = response.invitation
        assert invitation.answered_at == response.created_at
        assert invitation.sent_at <= response.created_at < invitation.expires_at
        assert (invitation.contact_id, invitation.touchpoint_id) == (
            response.contact_id,
            response.touchpoint_id,
        )
        assert response.event_properties == invitation.properties
    assert not Response.objects.exclude(channel="email").filter(invitation__isnull=False).exists()
    assert set(Response.objects.values_list("channel", flat=True)) == {"email", "link", "widget"}


def test_the_email_response_rate_is_between_a_fifth_and_a_half():
    seed()
    sent = Invitation.objects.filter(status=Invitation.Status.SENT).count()
    answered = Invitation.objects.filter(answered_at__isnull=False).count()
    assert answered == Response.objects.filter(channel="email").count()
    assert 0.2 <= answered / sent <= 0.5


def test_contacts_carry_the_segment_properties_and_reserved_addresses():
    seed()
    for contact in Contact.objects.all():
        assert set(contact.properties) == {"plan", "region", "customer_since", "language"}
        assert contact.properties["language"] == contact.language
        assert contact.email.rpartition("@")[2] in ("example.com", "example.org")
    response = Response.objects.filter(contact__isnull=False).select_related("contact").first()
    assert response.contact_properties == response.contact.properties


def test_the_surveys_count_plan_and_region_for_the_dashboard():
    seed()
    assert {tuple(names) for names in Survey.objects.values_list("dashboard_properties", flat=True)} == {
        ("plan", "region")
    }
    counted = dict(PropertyScore.objects.values_list("name").annotate(n=Sum("responses")).order_by())
    with_plan = sum(1 for response in Response.objects.all() if response.property_value("plan"))
    assert counted["plan"] == with_plan > RESPONSES / 2
    assert set(counted) == {"plan", "region"}


def test_every_property_of_the_demo_has_its_label_and_labels_set_before_stay():
    PropertyLabel.objects.create(name="region", label_de="Gebiet", label_en="Area")
    seed()
    seen = {
        name
        for contact_properties, event_properties in Response.objects.values_list(
            "contact_properties", "event_properties"
        )
        for name in (*contact_properties, *event_properties)
    }
    labels = dict(PropertyLabel.objects.values_list("name", "label_de"))
    assert seen and seen <= set(labels)
    assert labels["region"] == "Gebiet"


def test_about_six_in_ten_responses_have_a_comment_in_a_tone_that_matches_the_score():
    seed()
    commented = Response.objects.exclude(comment="")
    assert 0.5 <= commented.count() / RESPONSES <= 0.7
    for response in commented:
        expected = TONE_OF_CATEGORY[response.category]
        assert opener_tone(response.comment, response.language) == expected, response.comment


def test_comments_are_varied():
    seed()
    comments = Response.objects.exclude(comment="").values_list("comment", flat=True)
    assert len(set(comments)) > len(comments) / 3


def test_each_response_is_in_its_contacts_language_and_german_comments_are_german():
    seed()
    assert set(Response.objects.values_list("language", flat=True)) == {"de", "en"}
    for response in Response.objects.filter(contact__isnull=False).select_related("contact"):
        assert response.language == response.contact.language
    german = Response.objects.filter(language="de").exclude(comment="")
    assert all(opener_tone(comment, "de") for comment in german.values_list("comment", flat=True))
    assert any(letter in "".join(german.values_list("comment", flat=True)) for letter in "äöüß")


def test_running_it_twice_adds_nothing():
    seed()
    before = counts()
    output = seed()
    assert counts() == before
    assert "already present" in output


def test_the_same_seed_gives_the_same_answers():
    def answers() -> list[tuple]:
        return sorted(Response.objects.values_list("created_at", "score", "comment", "language", "channel"))

    seed(seed=3)
    first = answers()
    Contact.objects.all().delete()
    Response.objects.all().delete()
    Touchpoint.objects.all().delete()
    Survey.objects.all().delete()
    seed(seed=3)
    assert answers() == first


def test_the_demo_user_can_log_in_as_superuser():
    seed()
    user = authenticate(username="demo", password="cxsurvey-demo")
    assert user is not None
    assert user.is_superuser


def test_an_existing_demo_user_keeps_its_password(django_user_model):
    django_user_model.objects.create_user("demo", "demo@example.com", "chosen-password")
    seed()
    assert authenticate(username="demo", password="chosen-password") is not None
    assert authenticate(username="demo", password="cxsurvey-demo") is None


def test_with_debug_off_it_refuses_and_creates_nothing(settings):
    settings.DEBUG = False
    before = counts()
    with pytest.raises(CommandError, match=r"DEBUG is off.*Pass --force-demo-user"):
        seed()
    assert counts() == before


def test_forced_with_debug_off_the_demo_user_gets_a_random_password_printed_once(settings):
    settings.DEBUG = False
    output = seed(force_demo_user=True)
    *_, last = output.splitlines()
    login, _, password = last.partition("  password: ")
    assert login == f"Demo login: {settings.SITE_URL}/login/  user: demo"
    assert len(password) >= 20  # 128 bits, URL-safe
    assert output.count(password) == 1
    user = authenticate(username="demo", password=password)
    assert user is not None and user.is_superuser
    assert authenticate(username="demo", password="cxsurvey-demo") is None
    assert "cxsurvey-demo" not in output
    assert Response.objects.count() == seeded_answers(output)


def test_forced_with_debug_off_each_installation_gets_its_own_password(settings):
    settings.DEBUG = False
    first = seed(force_demo_user=True).splitlines()[-1]
    get_user_model().objects.filter(username="demo").delete()
    second = seed(force_demo_user=True).splitlines()[-1]
    assert first != second


def test_forced_with_debug_off_an_existing_demo_user_keeps_its_password(settings, django_user_model):
    settings.DEBUG = False
    django_user_model.objects.create_user("demo", "demo@example.com", "chosen-password")
    output = seed(force_demo_user=True)
    assert output.splitlines()[-1] == (
        f"Demo login: {settings.SITE_URL}/login/  user: demo  (an existing user: its password is unchanged)"
    )
    assert "password: " not in output
    assert authenticate(username="demo", password="chosen-password") is not None


def test_the_output_gives_the_login_and_the_counts():
    output = seed()
    assert f"Demo login: {settings.SITE_URL}/login/  user: demo  password: cxsurvey-demo" in output
    assert f"{CONTACTS} contacts" in output
    assert f"{RESPONSES} responses" in output


def test_a_touchpoint_slug_in_use_stops_it_before_anything_is_created():
    make_touchpoint(slug="order-delivered")
    with pytest.raises(CommandError, match="order-delivered"):
        seed()
    assert not Survey.objects.filter(brand="Nordwind Möbel").exists()
    assert not Contact.objects.exists()
    assert not get_user_model().objects.filter(username="demo").exists()
