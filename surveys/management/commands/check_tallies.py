"""``manage.py check_tallies [--repair]``: do the dashboards' tallies equal a fresh count?

The database keeps the tallies with every response written, changed or deleted; this says
where they differ all the same (a restored backup, a changed TIME_ZONE, triggers disabled for
a bulk load) and exits with status 1, for monitoring. ``--repair`` recounts the surveys that
differ, one at a time; answers to a survey wait while it is recounted.
"""

from itertools import groupby

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from surveys.models import Response, Survey, rebuild_tallies, tally_drift
from surveys.models.tallies import tally_zone

SHOWN_PER_SURVEY = 3


class Command(BaseCommand):
    help = "Compare the dashboards' tallies with a fresh count of the responses; --repair recounts them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--repair", action="store_true", help="Recount the surveys whose tallies differ.")

    def handle(self, *, repair: bool, **options) -> None:
        zone = tally_zone()
        if zone is None or zone.name != settings.TIME_ZONE:
            self.stdout.write(
                f"The tallies count days in {zone.name if zone else 'no time zone'}; "
                f"the installation's TIME_ZONE is {settings.TIME_ZONE}."
            )
            if not repair:
                raise CommandError("Run check_tallies --repair to recount them.", returncode=1)
            rebuild_tallies()
            self.stdout.write(f"Recounted every survey in {settings.TIME_ZONE}.")
        drift = tally_drift()
        if not drift:
            self.stdout.write(f"The tallies equal a fresh count of the {Response.objects.count()} responses.")
            return
        self._describe(drift)
        if not repair:
            raise CommandError("Run check_tallies --repair to recount these surveys.", returncode=1)
        surveys = Survey.objects.filter(pk__in={row.survey_id for row in drift}).order_by("pk")
        rebuild_tallies(surveys)
        if left := tally_drift(surveys):
            self._describe(left)
            raise CommandError("The tallies still differ after the recount.", returncode=1)
        self.stdout.write(f"Recounted {len(surveys)} surveys; their tallies now equal a fresh count.")

    def _describe(self, drift: list) -> None:
        names = dict(Survey.objects.filter(pk__in={row.survey_id for row in drift}).values_list("pk", "name"))
        for survey_id, group in groupby(drift, key=lambda row: row.survey_id):
            rows = list(group)
            self.stdout.write(f"Survey {survey_id} ({names.get(survey_id)}): {len(rows)} tally rows differ.")
            for row in rows[:SHOWN_PER_SURVEY]:
                key = " ".join(map(str, row.key))
                self.stdout.write(
                    f"  {row.tally} {key}: {row.stored} in the tally, {row.counted} counted afresh"
                )
