import pytest
from django.core.cache import cache


def pytest_configure(config):
    from django.conf import settings

    # Tests create users by the hundred; a slow password hash buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "admin-password")


@pytest.fixture
def cx_manager(django_user_model):
    """Staff with the survey permissions a CX manager gets in the admin."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("manager", "manager@example.com", "manager-password")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="surveys"))
    return user


@pytest.fixture
def outsider(django_user_model):
    """A signed-up user with no staff rights."""
    return django_user_model.objects.create_user("outsider", "outsider@example.com", "outsider-password")
