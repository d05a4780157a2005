"""Teams: who works on which surveys. A user sees and acts on the surveys of their teams only;
an installation without teams lets everyone see every survey, as before teams existed."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from surveys.models.survey import Survey


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), related_name="cx_teams", blank=True
    )
    surveys = models.ManyToManyField(Survey, verbose_name=_("surveys"), related_name="teams", blank=True)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
