"""``manage.py remove_two_factor <username>``: for someone who lost the phone with their authenticator app.

In the back office an administrator deletes the user's "TOTP device"; this command is for when
nobody can sign in there any more (the only superuser lost the phone). Signing in then takes the
password alone until the user sets up a new app, which REQUIRE_2FA asks for right after.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Remove a user's authenticator apps, so that they sign in with the password and set up a new one."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, username: str, **options) -> None:
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"There is no user {username!r}.")
        removed, _details = TOTPDevice.objects.filter(user=user).delete()
        self.stdout.write(f"Removed {removed} authenticator app(s) of {username}.")
