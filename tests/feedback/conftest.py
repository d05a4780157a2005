import pytest


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def manager_client(client, cx_manager):
    client.force_login(cx_manager)
    return client
