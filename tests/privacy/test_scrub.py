"""What of a person stays on an anonymised answer: the rules of ``privacy.scrub``, without a database."""

import pytest

from privacy.scrub import Scrubber

ANNA = Scrubber(
    email="Anna.Schmidt@example.com",
    external_id="K-100234",
    name="Anna-Lena von Schmidt",
    properties={"plan": "pro", "phone": "+49 170 1234567", "customer_no": "4711", "vip": True, "age": 42},
)
VALUES = ANNA.values({"plan": "pro", "city": "Ingolstadt"}, segments=["plan"])


@pytest.mark.parametrize(
    ("comment", "masked"),
    [
        ("Danke!", "Danke!"),
        ("Schreiben Sie an anna.schmidt@EXAMPLE.com", "Schreiben Sie an [email]"),
        ("Oder an info@firma.de", "Oder an [email]"),
        ("Rückruf unter 0170/1234567 bitte", "Rückruf unter [phone] bitte"),
        ("Tel. +49 (30) 123 456-78", "Tel. [phone]"),
        ("Meine Kundennummer ist K-100234.", "Meine Kundennummer ist [id]."),
        ("Gruß, Anna-Lena von Schmidt", "Gruß, [name]"),
        ("Lena fand es gut, Frau Schmidt auch", "[name] fand es gut, Frau [name] auch"),
        # A part of a name that is a common word is no name on its own; nor is a longer word.
        (
            "Die Lieferung von Montag kam an, Annahme problemlos",
            "Die Lieferung von Montag kam an, Annahme problemlos",
        ),
        ("Vertrag 4711 aus Ingolstadt", "Vertrag [data] aus [data]"),
        # Dates, prices and small numbers are no phone numbers.
        (
            "Geliefert am 01.02.2026 für 129,90 €, 3 Pakete, seit 2019",
            "Geliefert am 01.02.2026 für 129,90 €, 3 Pakete, seit 2019",
        ),
        ("", ""),
    ],
)
def test_a_kept_comment_masks_addresses_phone_numbers_and_the_person(comment, masked):
    assert ANNA.masked(comment, values=VALUES) == masked


@pytest.mark.parametrize(
    ("key", "value", "kept"),
    [
        ("order_id", "A-1042", True),
        ("carrier", "DHL", True),
        ("amount", 129.9, True),
        ("express", True, True),
        ("coupon", None, True),
        ("plan", "pro", True),  # a segment: its values judge nothing
        ("email", "x", False),  # named as personal, whatever the value
        ("customerName", "x", False),
        ("billing_address", "x", False),
        ("contact", "anna.schmidt@example.com", False),
        ("note", "Bitte an Lena übergeben", False),
        ("reference", "K-100234/7", False),
        ("callback", "+49 170 1234567", False),
        ("other_email", "bernd@example.com", False),  # anyone's address names someone
        ("store", "Ingolstadt", False),  # one of her property values
        ("ticket", "T-4711-2", False),  # holds one of her property values (4 or more characters)
        ("items", 42, False),  # equals one of her values
        ("items", 4, True),  # a short value counts only where it equals hers
    ],
)
def test_an_event_property_stays_only_if_nothing_in_it_names_the_person(key, value, kept):
    assert ANNA.keeps(key, value, values=VALUES) is kept


def test_of_the_contact_s_properties_only_the_segments_the_dashboards_count_stay():
    comment, contact, event = ANNA.answer(
        comment="Anna sagt danke",
        contact={"plan": "pro", "region": "Bayern", "phone": "+49 170 1234567", "tier": 3},
        event={"order_id": "A-1", "region": "Nord"},
        segments=["plan", "region", "tier"],
        keep_comment=False,
    )
    # "region" is the event's (which the dashboards count), "tier" no text: neither is kept twice.
    assert (comment, contact, event) == ("", {"plan": "pro"}, {"order_id": "A-1", "region": "Nord"})


def test_a_segment_that_names_the_person_goes_all_the_same():
    _comment, contact, _event = ANNA.answer(
        comment="", contact={"plan": "Anna Schmidt GmbH"}, event={}, segments=["plan"], keep_comment=True
    )
    assert contact == {}


def test_someone_without_a_name_or_properties_loses_only_what_looks_personal():
    nobody = Scrubber(email="", external_id="", name="", properties={})
    assert nobody.masked("Ruf an: 030 1234567, a@b.de", values=frozenset()) == "Ruf an: [phone], [email]"
    assert nobody.keeps("order", "A-1", values=frozenset())
