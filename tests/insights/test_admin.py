"""Themes are set up in the back office by whoever may; a change of rules starts matching again."""

import pytest
from django.urls import reverse
from django.utils import timezone

from insights.models import Theme
from tests.factories import answer_by_link, make_survey

pytestmark = pytest.mark.django_db


def test_a_cx_manager_makes_a_theme_and_its_matching_starts(client, cx_manager):
    survey = make_survey()
    answer_by_link(survey, 3, timezone.now(), comment="Paket kaputt")
    client.force_login(cx_manager)
    answer = client.post(
        reverse("admin:insights_theme_add"),
        {"name": "Paket", "include": "paket*", "exclude": "", "language": ""},
    )
    assert answer.status_code == 302
    theme = Theme.objects.get()
    assert (theme.to_match, theme.matched, theme.matching_after) == (1, 0, 0)


def test_rules_that_cannot_work_are_refused_in_the_form(client, cx_manager):
    client.force_login(cx_manager)
    answer = client.post(
        reverse("admin:insights_theme_add"), {"name": "Paket", "include": "li*", "language": ""}
    )
    assert answer.status_code == 200
    assert "at least 3 letters" in answer.content.decode()
    assert not Theme.objects.exists()


def test_an_analyst_sees_themes_but_cannot_change_them(client, analyst):
    theme = Theme.objects.create(name="Paket", include="paket*")
    client.force_login(analyst)
    assert client.get(reverse("admin:insights_theme_changelist")).status_code == 200
    assert client.post(reverse("admin:insights_theme_add"), {"name": "X", "include": "x*"}).status_code == 403
    assert (
        client.post(reverse("admin:insights_theme_delete", args=[theme.pk]), {"post": "yes"}).status_code
        == 403
    )
