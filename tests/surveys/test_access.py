import pytest

from surveys.access import may_read_feedback, may_read_responses, may_see_personal_data

pytestmark = pytest.mark.django_db

CAST = ["admin_user", "cx_manager", "analyst", "outsider", "non_staff"]


@pytest.mark.parametrize(
    ("person", "responses", "feedback", "personal_data"),
    [
        ("admin_user", True, True, True),
        ("cx_manager", True, True, True),
        ("analyst", True, True, False),
        ("outsider", False, False, False),
        ("non_staff", False, False, False),
    ],
)
def test_each_member_of_the_cast_may_what_their_role_allows(
    request, person, responses, feedback, personal_data
):
    user = request.getfixturevalue(person)
    assert (may_read_responses(user), may_read_feedback(user), may_see_personal_data(user)) == (
        responses,
        feedback,
        personal_data,
    )


@pytest.mark.parametrize("person", CAST)
def test_an_inactive_user_may_do_nothing(request, django_user_model, person):
    user = request.getfixturevalue(person)
    user.is_active = False
    user.save(update_fields=["is_active"])
    user = django_user_model.objects.get(pk=user.pk)  # permissions are cached per object
    assert not (may_read_responses(user) or may_read_feedback(user) or may_see_personal_data(user))


def test_the_cast_are_four_distinct_people_and_a_visitor(request):
    users = [request.getfixturevalue(person) for person in CAST]
    assert len({user.pk for user in users}) == len(CAST)
    assert [user.is_staff for user in users] == [True, True, True, True, False]
