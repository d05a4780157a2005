import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english(client):
    """Messages in English, whatever the installation's language: in requests and in code called directly."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield
