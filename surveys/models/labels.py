"""What people call a contact or event property: ``region`` is "Region", ``customer_since``
"Kunde seit". One label per property name and installation, in German and English."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from surveys.properties import PROPERTY_NAME


class PropertyLabelQuerySet(models.QuerySet["PropertyLabel"]):
    def names(self) -> dict[str, str]:
        """Property name → its label in the active language (else the other one), in one query;
        names without a label are missing, and shown as they are."""
        german = (get_language() or "").startswith("de")
        labels: dict[str, str] = {}
        for name, label_de, label_en in self.values_list("name", "label_de", "label_en"):
            labels[name] = (label_de or label_en) if german else (label_en or label_de)
        return labels


class PropertyLabel(models.Model):
    name = models.CharField(
        _("property"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(PROPERTY_NAME)],
        help_text=_("The property's name as the data carries it, e.g. customer_since."),
    )
    label_de = models.CharField(_("label (German)"), max_length=100, blank=True)
    label_en = models.CharField(_("label (English)"), max_length=100, blank=True)

    objects = PropertyLabelQuerySet.as_manager()

    class Meta:
        verbose_name = _("property label")
        verbose_name_plural = _("property labels")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(label_de="") | ~models.Q(label_en=""), name="property_label_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.name
