import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxsurvey.settings")

application = get_wsgi_application()

# Each worker reads the lemmatiser's dictionaries as it starts (a few seconds), so that the first
# answer with a comment it stores does not wait for them.
from surveys.terms import load  # noqa: E402 (the app's modules need the settings above)

load()
