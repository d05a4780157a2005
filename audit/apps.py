from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The audit log: who did what, when and from where, to surveys, people's data and access."""

    name = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from audit import changes, sign_ins

        sign_ins.connect()
        changes.connect()
