import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.factories import answer_by_link, make_subscription, make_survey, take_away
from webhooks.delivery import deliver_due
from webhooks.models import Delivery, Message, Subscription

pytestmark = pytest.mark.django_db

ADD = reverse("admin:webhooks_subscription_add")
SUBSCRIPTIONS = reverse("admin:webhooks_subscription_changelist")
MESSAGES = reverse("admin:webhooks_message_changelist")
LOG = reverse("admin:webhooks_delivery_changelist")


@pytest.fixture
def manager(cx_manager):
    """A CX manager who may manage webhooks too."""
    cx_manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    return cx_manager


def form(owner, **fields) -> dict:
    return {
        "owner": owner.pk,
        "url": "https://203.0.113.10/hooks",
        "description": "CRM",
        "payload_format": "cxsurvey",
        "events": ["response.created", "invitation.bounced"],
        **fields,
    }


def test_a_new_subscription_shows_its_secret_once(client, manager, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    client.force_login(manager)
    answer = client.post(ADD, form(manager))
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    subscription = Subscription.objects.get()
    assert f'value="{subscription.secret}"' in answer.content.decode()
    assert (subscription.owner, subscription.events) == (manager, ["response.created", "invitation.bounced"])
    for page in [SUBSCRIPTIONS, reverse("admin:webhooks_subscription_change", args=[subscription.pk])]:
        shown = client.get(page)
        assert shown.status_code == 200
        assert subscription.secret not in shown.content.decode()


def test_a_private_url_is_refused_in_the_form_and_nothing_stored(client, manager):
    client.force_login(manager)
    answer = client.post(ADD, form(manager, url="http://169.254.169.254/latest/meta-data/"))
    assert answer.status_code == 200
    assert "not a public address" in str(answer.context["adminform"].form.errors["url"])
    assert not Subscription.objects.exists()


def test_personal_data_is_refused_to_an_owner_who_may_not_view_contacts(client, manager, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    take_away(manager, "view_contact")
    client.force_login(manager)
    answer = client.post(ADD, form(manager, include_personal_data="on"))
    assert "may not view contacts" in str(answer.context["adminform"].form.errors["include_personal_data"])
    assert not Subscription.objects.exists()


def test_staff_see_and_make_subscriptions_for_themselves_only(client, manager, admin_user, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["203.0.113.10"]
    theirs = make_subscription(owner=admin_user, description="the admin's")
    client.force_login(manager)
    assert "the admin&#x27;s" not in client.get(SUBSCRIPTIONS).content.decode()
    change = reverse("admin:webhooks_subscription_change", args=[theirs.pk])
    assert client.get(change).status_code == 302  # the admin's "does not exist" redirect
    answer = client.post(ADD, form(admin_user))
    assert "owner" in answer.context["adminform"].form.errors
    assert Subscription.objects.count() == 1


def test_rotating_shows_the_new_secret_and_the_old_one_keeps_signing(client, manager):
    subscription = make_subscription(owner=manager)
    old = subscription.secret
    client.force_login(manager)
    answer = client.post(SUBSCRIPTIONS, {"action": "rotate_secret", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert subscription.secret != old
    assert f'value="{subscription.secret}"' in answer.content.decode()
    assert "no-store" in answer["Cache-Control"]
    assert subscription.signing_secrets(timezone.now()) == [subscription.secret, old]


def test_pausing_and_resuming_from_the_list(client, manager):
    subscription = make_subscription(owner=manager)
    client.force_login(manager)
    client.post(SUBSCRIPTIONS, {"action": "pause", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert (subscription.active, subscription.paused_at is not None) == (False, True)
    client.post(SUBSCRIPTIONS, {"action": "resume", "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert (subscription.active, subscription.paused_at) == (True, None)


def test_resend_from_the_log_delivers_the_message_again_with_its_webhook_id(
    client, manager, receiver, allow_localhost
):
    subscription = make_subscription(owner=manager, url=receiver.url())
    receiver.secret = subscription.secret
    answer_by_link(make_survey(), 9, timezone.now())
    deliver_due()
    client.force_login(manager)
    log = client.get(LOG, {"subscription__id__exact": subscription.pk})
    assert log.status_code == 200
    attempt = Delivery.objects.get()
    assert str(attempt.message) in log.content.decode()
    assert 'value="resend"' in log.content.decode()
    answer = client.post(LOG, {"action": "resend", "_selected_action": [attempt.pk]}, follow=True)
    assert "1 message will be sent again." in answer.content.decode()
    assert Message.objects.get().status == "pending"
    deliver_due()
    assert [request.headers["webhook-id"] for request in receiver.requests] == [
        attempt.message.webhook_id
    ] * 2


def test_the_message_page_shows_its_payload_and_attempts(client, manager, receiver, allow_localhost):
    subscription = make_subscription(owner=manager, url=receiver.url())
    receiver.secret = subscription.secret
    receiver.status = 410
    answer_by_link(make_survey(), 9, timezone.now())
    deliver_due()
    message = Message.objects.get()
    client.force_login(manager)
    page = client.get(reverse("admin:webhooks_message_change", args=[message.pk])).content.decode()
    assert message.webhook_id in page
    assert "410" in page
    assert client.get(MESSAGES, {"status__exact": "pending"}).status_code == 200


def test_others_see_neither_messages_nor_log_of_a_subscription_not_theirs(client, manager, admin_user):
    make_subscription(owner=admin_user)
    answer_by_link(make_survey(), 9, timezone.now())
    Message.objects.update(status="delivered", next_attempt_at=None)
    message = Message.objects.get()
    client.force_login(manager)
    assert message.webhook_id not in client.get(MESSAGES).content.decode()
    client.post(MESSAGES, {"action": "resend", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert message.status == "delivered"
    assert client.get(reverse("admin:webhooks_message_change", args=[message.pk])).status_code == 302


def test_staff_who_may_only_view_can_neither_rotate_nor_pause_nor_resend(client, outsider):
    viewing = Permission.objects.filter(content_type__app_label="webhooks", codename__startswith="view_")
    outsider.user_permissions.add(*viewing)
    subscription = make_subscription(owner=outsider)
    old = subscription.secret
    client.force_login(outsider)
    for action in ["rotate_secret", "pause"]:
        client.post(SUBSCRIPTIONS, {"action": action, "_selected_action": [subscription.pk]})
    subscription.refresh_from_db()
    assert (subscription.secret, subscription.active) == (old, True)
    assert 'value="resend"' not in client.get(LOG).content.decode()
    assert 'value="resend"' not in client.get(MESSAGES).content.decode()


def test_a_test_message_goes_to_active_subscriptions_only(client, manager, receiver, allow_localhost):
    active = make_subscription(owner=manager, url=receiver.url())
    receiver.secret = active.secret
    paused = make_subscription(owner=manager, url=receiver.url("/other"))
    Subscription.objects.filter(pk=paused.pk).pause(now=timezone.now())
    client.force_login(manager)
    answer = client.post(
        SUBSCRIPTIONS, {"action": "send_test", "_selected_action": [active.pk, paused.pk]}, follow=True
    )
    page = answer.content.decode()
    assert "A test message is on its way; the delivery log shows how it went." in page
    assert "1 subscription is paused: resume it to send a test message." in page
    assert list(Message.objects.values_list("subscription", "type")) == [(active.pk, "webhook.test")]
    assert deliver_due() == {"delivered": 1}
    assert [request.path for request in receiver.requests] == ["/hooks"]
    assert receiver.requests[0].verified
