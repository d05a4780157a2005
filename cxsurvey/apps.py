from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class CxsurveyConfig(AppConfig):
    name = "cxsurvey"

    def ready(self) -> None:
        from cxsurvey import security  # noqa: F401  (connects its receiver of user_logged_in)


class BackOfficeAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on a site with the sign-in rules of ``cxsurvey.signin``."""

    default = False  # "cxsurvey" in INSTALLED_APPS means CxsurveyConfig
    default_site = "cxsurvey.signin.BackOfficeSite"
