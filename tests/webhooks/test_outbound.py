"""No server-side request forgery: URLs to private addresses are refused when saved and again when
a message is delivered, on the address actually connected to; nothing else is followed or read."""

import ipaddress
import socket
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import answer_by_link, make_subscription, make_survey
from webhooks import outbound
from webhooks.delivery import deliver_due
from webhooks.models import Delivery, Message, Subscription, validate_webhook_url
from webhooks.outbound import RefusedURL, check_url, is_public

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "[::1]",
    "2130706433",  # 127.0.0.1 as one number
    "0x7f.1",  # 127.0.0.1 in hexadecimal, the last two parts joined
    "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
    "localhost",  # a name that resolves to loopback
]
PRIVATE_URLS = [
    *(f"http://{host}/hooks" for host in LOOPBACK_SPELLINGS),
    "http://10.1.2.3/hooks",
    "http://192.168.1.20/hooks",
    "http://172.16.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "http://[fd00:ec2::254]/latest/meta-data/",  # its IPv6 address on AWS
    "http://100.100.100.200/latest/meta-data/",  # Alibaba's, in the shared address space
    "http://0.0.0.0/hooks",
    "http://[fe80::1]/hooks",
]


def answer() -> None:
    """A link answer, stored the way the link page stores it: a message for each subscription."""
    answer_by_link(make_survey(), 9, timezone.now())


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_urls_of_private_addresses_are_refused_with_the_address_named(url):
    with pytest.raises(RefusedURL, match="not a public address"):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://203.0.113.10/hooks", "Only http and https"),
        ("file:///etc/passwd", "Only http and https"),
        ("gopher://1.1.1.1:70/", "Only http and https"),
        ("https://user:password@1.1.1.1/hooks", "no user name or password"),
        ("https:///hooks", "names no host"),
        ("https://1.1.1.1:port/hooks", "port"),
        ("https://no-such-host.invalid/hooks", "could not be found"),
    ],
)
def test_other_schemes_credentials_and_unknown_hosts_are_refused(url, reason):
    with pytest.raises(RefusedURL, match=reason):
        check_url(url)


@pytest.mark.parametrize("url", ["https://1.1.1.1/hooks", "http://[2606:4700:4700::1111]:8080/hooks?x=1"])
def test_public_addresses_are_accepted(url):
    check_url(url)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("100.64.0.1", False),  # shared address space (carrier-grade NAT)
        ("224.0.0.1", False),  # multicast
        ("ff02::1", False),
        ("fec0::1", False),  # site-local
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("::", False),
        ("240.0.0.1", False),  # reserved
    ],
)
def test_what_counts_as_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_a_named_host_is_let_through_for_development_and_nothing_else(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["LocalHost."]
    check_url("http://localhost:8000/hooks")
    with pytest.raises(RefusedURL):
        check_url("http://127.0.0.1:8000/hooks")


def test_the_model_refuses_to_save_a_private_url_with_a_message():
    with pytest.raises(ValidationError) as refused:
        validate_webhook_url("http://169.254.169.254/latest/meta-data/")
    assert "169.254.169.254" in refused.value.messages[0]


@pytest.mark.django_db
@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_at_delivery_a_loopback_address_is_refused_before_connecting(receiver, admin_user, host):
    """The subscription was stored without checks (or the setting changed since): the receiver on
    loopback would answer, but nothing reaches it."""
    make_subscription(owner=admin_user, url=f"http://{host}:{receiver.port}/hooks")
    answer()
    assert deliver_due() == {"retry": 1}
    attempt = Delivery.objects.get()
    assert (attempt.status, attempt.response_code) == ("failed", None)
    assert "not a public address" in attempt.error
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_host_that_resolves_elsewhere_at_delivery_is_refused_there(receiver, admin_user, monkeypatch):
    """DNS rebinding: public when the URL is saved, loopback when the message goes out."""
    answers = iter(["93.184.215.14", "127.0.0.1"])

    def rebinding(host, port):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(outbound, "resolve", rebinding)
    subscription = Subscription(
        owner=admin_user, url=f"http://rebind.example:{receiver.port}/", events=["response.created"]
    )
    subscription.full_clean()
    subscription.save()
    answer()
    deliver_due()
    assert "127.0.0.1, which is not a public address" in Delivery.objects.get().error
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_redirect_is_a_failure_and_its_location_is_not_fetched(receiver, admin_user, allow_localhost):
    receiver.status = 302
    receiver.headers = {"Location": receiver.url("/elsewhere")}
    receiver.secret = make_subscription(owner=admin_user, url=receiver.url()).secret
    answer()
    assert deliver_due() == {"retry": 1}
    attempt = Delivery.objects.get()
    assert (attempt.status, attempt.response_code) == ("failed", 302)
    assert [request.path for request in receiver.requests] == ["/hooks"]


@pytest.mark.django_db
def test_only_the_start_of_a_huge_answer_is_read(receiver, admin_user, allow_localhost):
    receiver.stream_bytes = 200 * 1024 * 1024
    receiver.secret = make_subscription(owner=admin_user, url=receiver.url()).secret
    answer()
    assert deliver_due() == {"delivered": 1}
    attempt = Delivery.objects.get()
    assert attempt.response_code == 200
    assert attempt.response_body == "x" * outbound.LOGGED_RESPONSE_CHARACTERS
    deadline = time.monotonic() + 10
    while not receiver.cut_off and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.cut_off, "the connection was closed before the answer's end"
    assert receiver.sent_bytes < receiver.stream_bytes


@pytest.mark.django_db
def test_an_answer_trickling_in_is_given_up_at_the_deadline(
    receiver, admin_user, allow_localhost, monkeypatch
):
    monkeypatch.setattr(outbound, "BODY_DEADLINE", 0.5)
    receiver.trickle = 0.05
    receiver.secret = make_subscription(owner=admin_user, url=receiver.url()).secret
    answer()
    started = time.monotonic()
    assert deliver_due() == {"delivered": 1}
    assert time.monotonic() - started < 5
    assert 0 < len(Delivery.objects.get().response_body) < 100


@pytest.mark.django_db
def test_a_receiver_that_is_not_listening_is_a_failure_to_retry(admin_user, allow_localhost):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    make_subscription(owner=admin_user, url=f"http://localhost:{port}/hooks")
    answer()
    assert deliver_due() == {"retry": 1}
    assert "ConnectionRefusedError" in Delivery.objects.get().error
    assert Message.objects.get().status == "pending"


@pytest.mark.django_db
def test_a_path_with_other_characters_is_sent_percent_encoded(receiver, admin_user, allow_localhost):
    receiver.secret = make_subscription(
        owner=admin_user, url=receiver.url("/hooks/für Kunden?tag=ä&x=1")
    ).secret
    answer()
    assert deliver_due() == {"delivered": 1}
    assert [request.path for request in receiver.requests] == ["/hooks/f%C3%BCr%20Kunden?tag=%C3%A4&x=1"]
