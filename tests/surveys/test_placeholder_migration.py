"""The migration that writes every stored text's placeholders one way: {brand} → {{ brand }}."""

import importlib

import pytest
from django.apps import apps

from followup.models import ReplyTemplate
from tests.factories import make_survey

pytestmark = pytest.mark.django_db

surveys_migration = importlib.import_module("surveys.migrations.0016_one_placeholder_syntax")
followup_migration = importlib.import_module("followup.migrations.0004_reply_placeholders")


def test_stored_survey_texts_get_double_braces_and_back():
    survey = make_survey(  # create() runs no validators: texts as saved before
        brand="Nordwind",
        question_de="Empfehlen Sie {brand}? {{ brand }} bleibt, {{brand}} auch, {name} nicht",
        email_subject_en="{brand}: {subject}",
        thank_you_en="",
    )
    untouched = make_survey(question_en="{{ subject }}")
    surveys_migration.to_one_syntax(apps, None)
    survey.refresh_from_db()
    assert survey.question_de == (
        "Empfehlen Sie {{ brand }}? {{ brand }} bleibt, {{brand}} auch, {name} nicht"
    )
    assert survey.email_subject_en == "{{ brand }}: {{ subject }}"
    assert survey.question("de").startswith("Empfehlen Sie Nordwind? Nordwind bleibt, Nordwind auch")
    surveys_migration.to_single_braces(apps, None)
    survey.refresh_from_db()
    untouched.refresh_from_db()
    assert survey.email_subject_en == "{brand}: {subject}"
    assert untouched.question_en == "{subject}"


def test_stored_reply_templates_get_double_braces_with_the_score():
    template = ReplyTemplate.objects.create(
        name="Sorry", language="en", subject="{brand}", body="You gave {score} points, {{ contact.name }}."
    )
    followup_migration.to_one_syntax(apps, None)
    template.refresh_from_db()
    assert (template.subject, template.body) == (
        "{{ brand }}",
        "You gave {{ score }} points, {{ contact.name }}.",
    )
