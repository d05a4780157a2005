import logging
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from surveys.email.messages import invitation_message, render_preview
from surveys.texts import (
    EMAIL_PLACEHOLDERS,
    MAX_INTRO_LENGTH,
    PAGE_PLACEHOLDERS,
    placeholders,
    render_survey_text,
    validate_email_text,
    validate_page_text,
    validate_reply_text,
)
from tests.factories import make_contact, make_invitation, make_survey
from tests.surveys.models.test_property_tally import survey_change_form

STRINGFORMAT = '{{ 0|stringformat:"020000000d" }}'  # 20 million digits, 80 MB as a Python string
LETTERS = '"abcdefghijklmnopqrstuvwxyz"'
# 456,976 iterations
NESTED_LOOPS = "".join(f"{{% for {name} in {LETTERS} %}}" for name in "abcd") + "x" + "{% endfor %}" * 4
VALUES = {
    "contact": {"name": "Jane Doe", "email": "jane@example.com"},
    "properties": {"order_id": "10042", "plan": "pro"},
    "brand": "Acme",
    "subject": "our service",
}


def refusal(text: str) -> str:
    with pytest.raises(ValidationError) as error, translation.override("en"):
        validate_email_text(text)
    assert error.value.code == "invalid_template"
    with translation.override("en"):
        (message,) = error.value.messages
    return message


def render(text: str, **values) -> str:
    return render_survey_text(
        text, "STANDARD", {**VALUES, **values}, max_length=MAX_INTRO_LENGTH, where="a test's text"
    )


# What is refused when a text is saved, and why


def test_a_filter_that_blows_a_number_up_to_80_mb_is_refused_with_the_filters_that_may_be_used():
    assert refusal(f"Hello {STRINGFORMAT}") == (
        "The filter “stringformat” cannot be used in survey texts; use one of: default, default_if_none, "
        "lower, upper, title, capfirst, truncatechars, truncatewords."
    )


def test_loops_are_refused():
    assert refusal(NESTED_LOOPS) == "Loops ({% for %}) cannot be used in survey texts."
    assert refusal("{% for x in properties.items %}{{ x }}{% empty %}none{% endfor %}") == (
        "Loops ({% for %}) cannot be used in survey texts."
    )


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("{% with n=contact.name %}{{ n }}{% endwith %}", "with"),
        ('{% now "Y" %}', "now"),
        ('{% cycle "a" "b" %}', "cycle"),
        ("{% filter upper %}x{% endfilter %}", "filter"),
        ("{% spaceless %} x {% endspaceless %}", "spaceless"),
        ("{% templatetag openblock %}", "templatetag"),
        ("{% verbatim %}{{ x }}{% endverbatim %}", "verbatim"),
        ("{% firstof contact.name 'you' %}", "firstof"),
        ("{% comment %}note{% endcomment %}", "comment"),
        ("{% load static %}", "load"),
        ('{% include "surveys/email/invitation.html" %}', "include"),
        ("{% debug %}", "debug"),
        ("{% widthratio 1 1 100000000 %}", "widthratio"),
    ],
)
def test_every_tag_but_if_is_refused_by_name(text, tag):
    assert refusal(text) == (
        f"The tag “{{% {tag} %}}” cannot be used in survey texts; only {{% if %}}, {{% elif %}}, "
        "{% else %}, {% endif %} can."
    )


@pytest.mark.parametrize(
    "placeholder",
    [
        "settings.SECRET_KEY",
        "request.user",
        "contact",
        "properties",
        "contact.phone",
        "contact.name.upper",
        "contact.email.0",
    ],
)
def test_placeholders_other_than_the_contact_and_properties_are_refused(placeholder):
    message = refusal(f"Hi {{{{ {placeholder} }}}}")
    assert message.startswith(f"“{{{{ {placeholder} }}}}” cannot be used in this text; write ")
    assert "{{ contact.name }}" in message or "{{ contact.email }}" in message


@pytest.mark.parametrize(
    ("placeholder", "meant"),
    [("contact.nmae", "{{ contact.name }}"), ("name", "{{ contact.name }}"), ("brnad", "{{ brand }}")],
)
def test_a_misspelt_placeholder_is_refused_naming_the_one_meant(placeholder, meant):
    assert refusal(f"{{{{ {placeholder} }}}}") == (
        f"“{{{{ {placeholder} }}}}” cannot be used in this text; write {meant}."
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [("{brand}", "{{ brand }}"), ("{subject}", "{{ subject }}"), ("{name}", "{{ contact.name }}")],
)
def test_the_single_braces_of_earlier_texts_are_refused_naming_the_placeholder_to_write(old, new):
    assert refusal(f"Hallo {old}!") == f"“{old}” is not a placeholder: write {new}."


def test_a_page_text_may_use_the_brand_subject_and_properties_but_no_person():
    validate_page_text("{{ brand }} fragt: wie war {{ subject|lower }}?")
    validate_page_text("Wie wahrscheinlich empfehlen Sie {{ properties.product|default:brand }}?")
    with translation.override("en"):
        with pytest.raises(ValidationError) as error:
            validate_page_text("Hallo {{ contact.name }}")
        assert error.value.messages == [
            "“{{ contact.name }}” cannot be used in this text; write one of {{ brand }}, {{ subject }}, "
            "{{ properties.<name> }}."
        ]


def test_a_reply_may_use_the_score_too():
    validate_reply_text("{{ contact.name }}, Sie gaben {{ score }} Punkte für {{ brand }}")
    assert "“{{ score }}” cannot be used" in refusal("{{ score }}")


def test_the_placeholders_written_out_for_each_kind_of_text():
    assert placeholders(PAGE_PLACEHOLDERS) == ["{{ brand }}", "{{ subject }}", "{{ properties.<name> }}"]
    assert placeholders(EMAIL_PLACEHOLDERS)[2:] == [
        "{{ contact.name }}",
        "{{ contact.email }}",
        "{{ properties.<name> }}",
    ]


def test_a_placeholder_is_checked_in_conditions_and_filter_arguments_too():
    assert "“{{ settings.DEBUG }}” cannot be used" in refusal("{% if settings.DEBUG %}x{% endif %}")
    assert "“{{ contact }}” cannot be used" in refusal("{{ properties.x|default:contact }}")
    assert "The filter “center”" in refusal('{% if contact.name|center:"99999" == "" %}x{% endif %}')


def test_private_attributes_are_refused():
    assert "may not begin with underscores" in refusal("{{ contact.__class__ }}")


@pytest.mark.parametrize("argument", ["0", "2001", "99999999", '"40"', "properties.n"])
def test_truncating_takes_a_whole_number_written_in_the_text(argument):
    assert refusal(f"{{{{ contact.name|truncatechars:{argument} }}}}") == (
        "The filter “truncatechars” takes a whole number from 1 to 2000, e.g. truncatechars:40."
    )


@pytest.mark.parametrize(
    "broken", ["Order {% if %}", "{{ x|nope }}", "{% else %}", "{% if " + "not " * 2000 + "x %}y{% endif %}"]
)
def test_a_text_that_does_not_compile_is_refused_with_the_reason(broken):
    assert refusal(broken).startswith("This text cannot be used: ")


@pytest.mark.parametrize(
    "text",
    [
        'Hello {{ contact.name|default:"there" }}, order {{ properties.order_id }}',
        "{{ contact.name }}, one question",  # the back office's tests
        "Your order {{ properties.order_id }}",
        "Dear {{ contact.name }}, <b>thanks</b>",
        "{{ brand }}: how was {{ subject }}?",
        "{% if contact.name %}Dear {{ contact.name|title }},{% else %}Hello,{% endif %}",
        '{% if properties.plan == "pro" %}Pro{% elif not properties.plan %}-{% endif %}',
        "{{ contact.email|lower }} {{ properties.x|default_if_none:'' }} {{ contact.name|truncatewords:3 }}",
        "{# a note #}{{ 'Hi'|upper }} {{ properties.order.id }}",
        "",
    ],
)
def test_personalisation_is_accepted(text):
    validate_email_text(text)


@pytest.mark.django_db
def test_the_model_refuses_such_texts_on_every_email_field():
    survey = make_survey()
    survey.email_subject_de = STRINGFORMAT
    survey.email_intro_en = NESTED_LOOPS
    with pytest.raises(ValidationError) as error, translation.override("en"):
        survey.full_clean()
    assert set(error.value.message_dict) == {"email_subject_de", "email_intro_en"}
    with translation.override("en"):
        assert error.value.message_dict["email_intro_en"] == [
            "Loops ({% for %}) cannot be used in survey texts."
        ]


@pytest.mark.django_db
def test_the_admin_refuses_such_a_text_with_the_reason_and_keeps_the_old_one(client, cx_manager):
    survey = make_survey(email_intro_de="Hallo {{ contact.name }}")
    client.force_login(cx_manager)
    data = survey_change_form(client, survey)
    page = client.post(
        reverse("admin:surveys_survey_change", args=[survey.pk]),
        {**data, "email_intro_de": f"Hallo {STRINGFORMAT}"},
        headers={"Accept-Language": "en"},
    )
    assert page.status_code == 200
    assert "The filter “stringformat” cannot be used in survey texts" in page.content.decode()
    survey.refresh_from_db()
    assert survey.email_intro_de == "Hallo {{ contact.name }}"


# Rendering


def test_the_contact_properties_and_filters_are_filled_in_as_plain_text():
    assert (
        render('Hi {{ contact.name|default:"you" }} <{{ contact.email }}>')
        == "Hi Jane Doe <jane@example.com>"
    )
    assert render("{{ properties.order_id }}/{{ properties.plan|upper }}") == "10042/PRO"
    assert render('Hi {{ contact.name|default:"you" }}', contact={"name": "", "email": ""}) == "Hi you"
    assert render("{{ contact.name|truncatechars:5 }}") == "Jane…"
    assert render("{{ properties.missing }}|{{ properties.missing|default:'-' }}") == "|-"


def test_conditions_choose_a_wording():
    text = '{% if properties.plan == "pro" %}Dear {{ contact.name }}{% else %}Hello{% endif %}'
    assert render(text) == "Dear Jane Doe"
    assert render(text, properties={"plan": "free"}) == "Hello"


def test_a_property_whose_name_has_dots_is_looked_up_by_its_whole_name():
    assert render("Order {{ properties.order.id }}", properties={"order.id": "A-17"}) == "Order A-17"


def test_the_brand_and_subject_are_shown_as_written_not_read_as_template_code():
    assert render("{{ brand }} asks about {{ subject }}", brand="{{ contact.email }}") == (
        "{{ contact.email }} asks about our service"
    )
    assert (
        render("{{ brand }}", brand="{% for x in 'abc' %}x{% endfor %}")
        == "{% for x in 'abc' %}x{% endfor %}"
    )


def test_a_missing_property_named_like_a_dict_method_is_empty_and_changes_nothing():
    properties = {"order_id": "10042"}
    assert render(
        "[{{ properties.clear }}{{ properties.items }}{{ properties.popitem }}]", properties=properties
    ) == ("[]")
    assert properties == {"order_id": "10042"}
    assert render("{{ properties.items }}", properties={"items": 3}) == "3"


def test_an_empty_text_is_the_standard_text():
    assert render("") == "STANDARD"


@pytest.mark.parametrize("stored", [STRINGFORMAT, NESTED_LOOPS, "{{ settings.SECRET_KEY }}", "{% if %}"])
def test_a_stored_text_that_breaks_the_rules_renders_as_the_standard_text(stored):
    assert render(stored) == "STANDARD"


def test_a_text_that_grows_too_long_with_its_data_is_the_standard_text(caplog):
    text = "{{ properties.long|upper }}" * 11
    assert len(render(text, properties={"long": "x" * 450})) == 11 * 450
    with caplog.at_level(logging.WARNING, logger="surveys.texts"):
        assert render(text, properties={"long": "x" * 500}) == "STANDARD"
    assert "The text a test's text rendered 5500 characters" in caplog.text


def test_a_text_that_breaks_the_rules_is_reported_once_not_for_every_email(caplog):
    stored = f"{NESTED_LOOPS} {uuid.uuid4()}"  # a text no other test has reported
    with caplog.at_level(logging.WARNING, logger="surveys.texts"):
        for _ in range(3):
            assert render(stored) == "STANDARD"
    (record,) = caplog.records
    assert (
        "a test's text breaks the rules (Loops ({% for %}) cannot be used in survey texts.)" in record.message
    )


@pytest.mark.django_db
def test_an_email_with_a_stored_evil_text_goes_out_small_with_the_standard_texts():
    survey = make_survey(brand="Acme")
    # As texts saved before these rules: create() runs no validators.
    survey.email_subject_en = STRINGFORMAT
    survey.email_intro_en = NESTED_LOOPS
    survey.save(update_fields=["email_subject_en", "email_intro_en"])
    invitation = make_invitation(survey=survey, contact=make_contact(language="en"))
    message = invitation_message(invitation)
    (html, _), *_ = message.alternatives
    assert message.subject == "Acme: a quick question"
    assert "We would like to know how we are doing." in message.body
    assert len(message.body) + len(html) < 20_000
    subject, text, html = render_preview(survey, "en")
    assert subject == "Acme: a quick question"
    assert len(text) + len(html) < 20_000
