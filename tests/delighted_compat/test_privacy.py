"""A member's Autopilot properties are the person's data, like everything else held about them."""

import pytest
from django.utils import timezone

from delighted_compat.models import AutopilotMembership
from privacy.access import personal_data
from privacy.erasure import Person, erase_contact
from tests.factories import make_contact

pytestmark = pytest.mark.django_db


def test_autopilot_properties_are_exported_and_erased_with_the_person(project):
    contact = make_contact(email="loyal@example.com")
    AutopilotMembership.objects.create(
        project=project, contact=contact, properties={"Tarif": "Öko"}, next_at=timezone.now()
    )
    document = personal_data(Person.of(contact))
    assert [row["properties"] for row in document["autopilot"]] == [{"Tarif": "Öko"}]

    erased = erase_contact(contact_id=contact.pk)
    assert erased is not None and erased.counts["autopilot"] == 1
    assert not AutopilotMembership.objects.exists()
