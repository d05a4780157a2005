import warnings

import pytest

from delighted_compat.models import Project
from surveys.models import ApiToken
from tests.factories import make_survey, make_touchpoint

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # the client announces Delighted's end on import
    import delighted  # noqa: F401


@pytest.fixture
def project(db, admin_user):
    """A Delighted project answered by an NPS survey's touchpoint that asks at once, at any hour;
    ``project.key`` is its key, an Admin's token with write access."""
    survey = make_survey(kind="nps", name="Shop")
    touchpoint = make_touchpoint(survey=survey, slug="after-delivery", send_window=None, recontact_days=30)
    token, key = ApiToken.issue(user=admin_user, name="Delighted integration", write=True)
    made = Project.objects.create(token=token, touchpoint=touchpoint)
    made.key = key
    return made
