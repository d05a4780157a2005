"""Selecting responses by a property: the event's value wins, text only, and by index on PostgreSQL."""

import pytest
from django.db import connection

from surveys.models import Response
from tests.factories import make_contact, make_response
from tests.plans import plan_on_a_large_table

pytestmark = pytest.mark.django_db


@pytest.fixture
def answers():
    dhl = make_contact(properties={"carrier": "DHL"})
    return {
        "event": make_response(event_properties={"carrier": "DHL"}),
        "contact": make_response(contact=dhl, contact_properties=dhl.properties),
        "event wins": make_response(
            contact=dhl, contact_properties=dhl.properties, event_properties={"carrier": "DPD"}
        ),
        "event's null wins": make_response(
            contact=dhl, contact_properties=dhl.properties, event_properties={"carrier": None}
        ),
        "a number": make_response(event_properties={"carrier": 5}),
        "another name": make_response(event_properties={"shipper": "DHL"}),
    }


def matching(name: str, value: str) -> set[int]:
    return set(Response.objects.with_property(name, value).values_list("pk", flat=True))


def test_the_events_value_wins_over_the_contacts_and_only_text_matches(answers):
    assert matching("carrier", "DHL") == {answers["event"].pk, answers["contact"].pk}
    assert matching("carrier", "DPD") == {answers["event wins"].pk}
    assert matching("carrier", "5") == set()
    assert matching("carrier", "UPS") == set()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans of PostgreSQL")
def test_a_property_filter_can_read_the_property_indexes(answers):
    """Written as containment, both branches of the filter can use their GIN index: a rare value
    is found without reading every answer of the period."""
    query = Response.objects.with_property("carrier", "DHL")
    plan = plan_on_a_large_table(query)
    assert "Seq Scan" not in plan, plan
    assert "response_event_properties_idx" in plan and "response_contact_properties_idx" in plan, plan
