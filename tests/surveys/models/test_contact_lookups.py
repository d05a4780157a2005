"""Finding contacts by email and external id: right in any case, and by the unique indexes."""

import pytest
from django.db import connection

from surveys.models import Contact
from surveys.models.contact import identified_by
from tests.factories import make_contact
from tests.plans import plan_on_a_large_table

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts():
    return [
        make_contact(email="Anna@Example.com"),
        make_contact(email="", external_id="K-1"),
        make_contact(email="ben@example.com", external_id="K-2"),
    ]


def test_contacts_are_found_by_email_in_any_case_and_by_external_id(contacts):
    anna, k1, ben = contacts
    assert list(Contact.objects.matching(email="ANNA@example.COM")) == [anna]
    assert list(Contact.objects.matching(external_id="K-1")) == [k1]
    assert list(Contact.objects.matching(email="ben@example.com", external_id="K-1")) == [k1, ben]
    assert list(Contact.objects.matching()) == []
    assert list(Contact.objects.matching(email="")) == []  # K-1's empty email is no match
    found = Contact.objects.filter(identified_by(["anna@example.com"], ["K-2"])).order_by("pk")
    assert list(found) == [anna, ben]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans of PostgreSQL")
def test_a_lookup_uses_the_unique_indexes_not_a_scan_of_every_contact(contacts):
    """Each branch must carry its partial index's condition, or PostgreSQL cannot use the index."""
    query = Contact.objects.matching(email="anna@example.com", external_id="K-1")
    plan = plan_on_a_large_table(query)
    assert "Seq Scan" not in plan, plan
    assert "contact_email_ci_unique" in plan and "contact_external_id_unique" in plan, plan
