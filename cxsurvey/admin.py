"""Unlocking accounts in the back office: an action on the users beside axes' own list of attempts."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cxsurvey.signin import reset_failed_logins

User = get_user_model()


class BackOfficeUserAdmin(UserAdmin):
    actions = ["unlock"]

    @admin.action(description=_("Unlock sign-in (forget failed attempts)"), permissions=["change"])
    def unlock(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Lifts the lockout of the selected accounts. An address is unlocked under “Access attempts”."""
        usernames = [user.get_username() for user in queryset]
        for username in usernames:
            reset_failed_logins(username=username)
        message = ngettext(
            "Unlocked sign-in for %(count)d user.", "Unlocked sign-in for %(count)d users.", len(usernames)
        )
        self.message_user(request, message % {"count": len(usernames)})


admin.site.unregister(User)
admin.site.register(User, BackOfficeUserAdmin)
