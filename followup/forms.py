"""The digest's settings form."""

import zoneinfo

from django import forms

from followup.models import Digest


def time_zone_choices() -> list[tuple[str, str]]:
    """The IANA time zones with a region ("Europe/Berlin"), sorted; UTC at the end."""
    names = sorted(
        name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith("Etc/")
    )
    return [(name, name) for name in [*names, "UTC"]]


class DigestForm(forms.ModelForm):
    hour = forms.TypedChoiceField(coerce=int, choices=[(hour, f"{hour:02d}:00") for hour in range(24)])
    time_zone = forms.ChoiceField(choices=time_zone_choices)

    class Meta:
        model = Digest
        fields = ["frequency", "hour", "time_zone", "language"]
