import pytest

from tests.factories import make_api_token


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    """Files of exports go to the test's own folder, never to the project's media."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def manager_client(client, cx_manager):
    client.force_login(cx_manager)
    return client


@pytest.fixture
def token(cx_manager):
    """An API token of the CX manager that can only read."""
    return make_api_token(user=cx_manager)


@pytest.fixture
def analyst_token(analyst):
    """An API token of a reader who may not view contacts."""
    return make_api_token(user=analyst)
