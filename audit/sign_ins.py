"""Sign-ins, failed sign-ins and sign-outs of the back office, from Django's auth signals."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from audit.log import Action, pseudonymise, record


def signed_in(sender, request, user, **kwargs) -> None:
    record(Action.SIGNED_IN, request=request, user=user)


def signed_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        record(Action.SIGNED_OUT, request=request, user=user)


def sign_in_failed(sender, credentials: dict, request=None, **kwargs) -> None:
    """A failed sign-in names the user tried when there is one by that name; any other name is
    kept as a keyed hash only, since people type their password into the name field."""
    name = str(credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or "")
    user = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: name}).first()
    details = {} if user is not None else {"name": pseudonymise(name, purpose="name")}
    record(Action.SIGN_IN_FAILED, request=request, user=user, details=details)


def connect() -> None:
    user_logged_in.connect(signed_in, dispatch_uid="audit.signed_in")
    user_logged_out.connect(signed_out, dispatch_uid="audit.signed_out")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit.sign_in_failed")
