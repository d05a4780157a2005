"""Who may see and work on a case: the permission, and the case's survey among the user's
(``surveys.access``). A case the user may not see is answered as if it did not exist (404)."""

from django.contrib.auth.models import Permission, User
from django.db.models import Q, QuerySet
from django.http import Http404

from followup.models import Case, CaseQuerySet
from surveys.access import AnyUser, visible_surveys


def may_work_on_cases(user: AnyUser) -> bool:
    return user.is_active and user.is_staff and user.has_perm("followup.view_case")


def visible_cases(user: AnyUser) -> CaseQuerySet:
    """The cases of the surveys this user may see; none without the permission."""
    if not user.has_perm("followup.view_case"):
        return Case.objects.none()
    return Case.objects.filter(survey__in=visible_surveys(user))


def get_case_for_user(user: AnyUser, public_id: object) -> Case:
    """The case with this public id if the user may see it; Http404 for an unknown, malformed or
    foreign one alike."""
    case = visible_cases(user).filter(public_id=public_id).select_related("response", "survey").first()
    if case is None:
        raise Http404("No case has this id.")
    return case


def case_workers() -> QuerySet[User]:
    """Active staff who may work on cases (``followup.change_case``, by a role, their own or as
    superusers): whom a case may be assigned to. Which surveys each may see is asked per case
    (``may_see_case``)."""
    permission = Permission.objects.filter(codename="change_case", content_type__app_label="followup")
    holds = Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission)
    return User.objects.filter(holds, is_active=True, is_staff=True).distinct().order_by("username")


def may_see_case(user: AnyUser, case: Case) -> bool:
    return visible_cases(user).filter(pk=case.pk).exists()
