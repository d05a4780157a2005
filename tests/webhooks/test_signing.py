"""Signatures as the Standard Webhooks specification has them, checked with its own Python library."""

import base64
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from tests.factories import make_subscription
from webhooks.signing import SECRET_PREFIX, new_secret, signature, signed_headers

# The example of the specification's reference libraries.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBHOOK_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_reference_example_is_the_one_the_libraries_expect():
    assert signature(secret=SECRET, webhook_id=WEBHOOK_ID, timestamp=TIMESTAMP, body=BODY) == EXPECTED


def test_a_new_secret_has_the_specifications_form_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(secret.removeprefix(SECRET_PREFIX))) == 32
    assert new_secret() != secret


def test_the_library_verifies_our_headers_and_refuses_a_changed_body():
    secret = new_secret()
    now = int(time.time())
    headers = signed_headers(secrets=[secret], webhook_id="msg_abc", timestamp=now, body=b'{"score": 9}')
    assert headers["webhook-id"] == "msg_abc"
    assert headers["webhook-timestamp"] == str(now)
    assert Webhook(secret).verify(b'{"score": 9}', headers) == {"score": 9}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"score": 0}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(b'{"score": 9}', headers)


def test_during_a_rotation_both_secrets_sign_and_each_verifies():
    old, new = new_secret(), new_secret()
    headers = signed_headers(secrets=[new, old], webhook_id="msg_abc", timestamp=int(time.time()), body=b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(b"{}", headers) == {}
    assert Webhook(old).verify(b"{}", headers) == {}


@pytest.mark.django_db
def test_a_rotated_out_secret_signs_for_a_day_and_then_no_more(admin_user):
    subscription = make_subscription(owner=admin_user)
    old = subscription.secret
    now = timezone.now()
    subscription.rotate_secret(now=now)
    subscription.refresh_from_db()
    assert subscription.secret != old
    assert subscription.previous_secret == old
    assert subscription.signing_secrets(now + timedelta(hours=23)) == [subscription.secret, old]
    assert subscription.signing_secrets(now + timedelta(hours=24)) == [subscription.secret]


def test_the_readmes_ten_lines_verify_our_signatures_and_refuse_others():
    readme = (settings.BASE_DIR / "README.md").read_text()
    code = re.search(r"```python\n(import base64.*?)```", readme, re.DOTALL).group(1)
    assert len(code.strip().splitlines()) <= 10
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the README's own example
    verify = namespace["verify"]
    old, new = new_secret(), new_secret()
    headers = signed_headers(secrets=[new, old], webhook_id="msg_abc", timestamp=int(time.time()), body=b"{}")
    assert verify(new, b"{}", headers)
    assert verify(old, b"{}", headers)
    assert not verify(new_secret(), b"{}", headers)
    assert not verify(new, b'{"score": 0}', headers)
    stale = signed_headers(secrets=[new], webhook_id="msg_abc", timestamp=int(time.time()) - 600, body=b"{}")
    assert not verify(new, b"{}", stale)
