"""``manage.py create_api_token <username> [--name NAME] [--write]``: prints a new API token.

Only the token goes to stdout, on one line, so that scripts can capture it
(``TOKEN=$(manage.py create_api_token shop)``). It is shown this once: only its
digest is stored.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from surveys.models import ApiToken
from surveys.models.tokens import TOKEN_NAME_MAX_LENGTH


class Command(BaseCommand):
    help = "Create an API token acting as a user and print it (read-only unless --write)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", help="The user the token acts as.")
        parser.add_argument(
            "--name", default="command line", help="What uses the token, e.g. 'shop backend'."
        )
        parser.add_argument("--write", action="store_true", help="Allow the token to change data.")

    def handle(self, *args, username: str, name: str, write: bool, **options) -> None:
        users = get_user_model()._default_manager
        try:
            user = users.get_by_natural_key(username)
        except users.model.DoesNotExist:
            raise CommandError(f"No user is called {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"The user {username!r} is inactive; its tokens would not work.")
        if not name.strip() or len(name) > TOKEN_NAME_MAX_LENGTH:
            raise CommandError(f"--name must be 1 to {TOKEN_NAME_MAX_LENGTH} characters.")
        _api_token, token = ApiToken.issue(user=user, name=name.strip(), write=write)
        self.stdout.write(token)
