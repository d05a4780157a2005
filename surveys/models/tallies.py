"""Daily tallies of responses per score, and per value of a survey's dashboard properties.

Derived data that the dashboards count instead of millions of responses: nothing personal,
and ``rebuild_tallies()`` recreates it from the responses.
"""

from collections import defaultdict

from django.db import connection, models, transaction
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from surveys.models.response import Response
from surveys.models.survey import Survey
from surveys.properties import PROPERTY_VALUE_MAX_LENGTH, PropertyValue


class DailyScoreQuerySet(models.QuerySet):
    def tally(self, response: "Response", *, score: int, change: int) -> None:
        """Count a response in (+1) or out of (−1) its local day and score, atomically.

        In: an upsert. Out: an update of the row that counted it (the check constraint
        would refuse the negative row an upsert proposes before it meets the conflict).
        """
        key = {"survey_id": response.survey_id, "touchpoint_key": response.touchpoint_id or 0, "score": score}
        if change < 0:
            self.filter(**key, day=timezone.localdate(response.created_at)).update(
                responses=models.F("responses") + change
            )
            return
        table = self.model._meta.db_table
        day = connection.ops.adapt_datefield_value(timezone.localdate(response.created_at))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (survey_id, touchpoint_key, day, score, responses) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (survey_id, day, touchpoint_key, score) "
                f"DO UPDATE SET responses = {table}.responses + excluded.responses",
                [response.survey_id, response.touchpoint_id or 0, day, score, change],
            )

    def rebuild(self) -> int:
        """Count every response afresh, after bulk loads or to repair; returns the rows written."""
        zone = timezone.get_current_timezone()
        counts = (
            Response.objects.annotate(day=TruncDate("created_at", tzinfo=zone))
            .values("survey_id", "touchpoint_id", "day", "score")
            .annotate(responses=models.Count("pk"))
            .order_by()
        )
        with transaction.atomic():
            self.all().delete()
            rows = self.bulk_create(
                (
                    DailyScore(
                        survey_id=row["survey_id"],
                        touchpoint_key=row["touchpoint_id"] or 0,
                        day=row["day"],
                        score=row["score"],
                        responses=row["responses"],
                    )
                    for row in counts.iterator()
                ),
                batch_size=5000,
            )
        return len(rows)


class DailyScore(models.Model):
    """How many responses each survey got per local day, touchpoint and score.

    Kept in step with every response written or changed, so that dashboards count
    thousands of tally rows instead of millions of responses. Derived data: it holds
    nothing personal and ``DailyScore.objects.rebuild()`` recreates it.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    # The touchpoint's id, 0 for answers without one (link, widget): a unique key needs no NULL.
    touchpoint_key = models.PositiveIntegerField()
    day = models.DateField()  # in the installation's time zone
    score = models.SmallIntegerField()
    responses = models.IntegerField()

    objects = DailyScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the dashboards' index: one survey over a period.
            models.UniqueConstraint(
                fields=["survey", "day", "touchpoint_key", "score"], name="daily_score_unique_key"
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="daily_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.day} {self.score}: {self.responses}"


class PropertyScoreQuerySet(models.QuerySet):
    def tally(self, response: "Response", *, score: int, change: int) -> None:
        """Count a response in (+1) or out of (−1) its local day, score and the value of each of
        its survey's dashboard properties that it has, atomically, as ``DailyScore.objects.tally``.

        The survey's list is read with a share lock: a change of the list, which rebuilds these
        rows, waits for this answer's transaction, and this answer waits for the change's; so
        no answer is counted under a list that the rebuild did not see.
        """
        values = {
            name: value
            for name in _locked_dashboard_properties(response.survey_id)
            if (value := response.property_value(name)) is not None
        }
        if not values:
            return
        key = {"survey_id": response.survey_id, "touchpoint_key": response.touchpoint_id or 0, "score": score}
        day = timezone.localdate(response.created_at)
        if change < 0:
            counted = models.Q()
            for name, value in values.items():
                counted |= models.Q(name=name, value=value)
            self.filter(counted, **key, day=day).update(responses=models.F("responses") + change)
            return
        table = self.model._meta.db_table
        day = connection.ops.adapt_datefield_value(day)
        rows = sorted(values.items())  # one order for every writer: no deadlocks between two answers
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (survey_id, name, day, touchpoint_key, value, score, responses) "  # noqa: S608
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s)'] * len(rows))} "
                "ON CONFLICT (survey_id, name, day, touchpoint_key, value, score) "
                f"DO UPDATE SET responses = {table}.responses + excluded.responses",
                [
                    field
                    for name, value in rows
                    for field in (key["survey_id"], name, day, key["touchpoint_key"], value, score, change)
                ],
            )

    def rebuild(self, survey: Survey | None = None) -> int:
        """Count every response of one survey (or of all) afresh for its survey's dashboard
        properties, with one grouped INSERT … SELECT per property name; returns the rows written."""
        surveys = Survey.objects.all() if survey is None else Survey.objects.filter(pk=survey.pk)
        surveys_by_name = defaultdict(list)
        for survey_id, names in surveys.values_list("pk", "dashboard_properties"):
            for name in names:
                surveys_by_name[name].append(survey_id)
        zone = timezone.get_current_timezone()
        table = self.model._meta.db_table
        written = 0
        with transaction.atomic(), connection.cursor() as cursor:
            self.filter(survey__in=surveys).delete()
            for name, survey_ids in sorted(surveys_by_name.items()):
                counts, parameters = (
                    Response.objects.filter(survey_id__in=survey_ids)
                    .annotate(
                        day=TruncDate("created_at", tzinfo=zone),
                        touchpoint_key=Coalesce("touchpoint_id", 0),
                        value=PropertyValue(name),
                    )
                    .values("survey_id", "day", "touchpoint_key", "value", "score")
                    .annotate(responses=models.Count("pk"))
                    .order_by()
                    .query.sql_with_params()
                )
                # Into the table in the same statement: a property with a few values has rows by
                # the hundred thousand on a large survey, too many to carry through Python.
                cursor.execute(
                    f"INSERT INTO {table} (survey_id, name, day, touchpoint_key, value, score, responses) "  # noqa: S608
                    "SELECT survey_id, %s, day, touchpoint_key, value, score, responses "
                    f"FROM ({counts}) AS counts WHERE value IS NOT NULL",
                    [name, *parameters],
                )
                written += cursor.rowcount
        return written


def _locked_dashboard_properties(survey_id: int) -> list[str]:
    """The survey's dashboard properties, share-locked until the transaction ends where the
    database has row locks (SQLite has one writer at a time and needs none)."""
    lock = " FOR SHARE" if connection.features.has_select_for_update else ""
    table = Survey._meta.db_table
    query = f"SELECT id, dashboard_properties FROM {table} WHERE id = %s{lock}"  # noqa: S608
    return Survey.objects.raw(query, [survey_id])[0].dashboard_properties


class PropertyScore(models.Model):
    """How many responses each survey got per local day, touchpoint, score and value of each
    of its dashboard properties (``Survey.dashboard_properties``).

    The property filters and breakdowns of large surveys count these rows instead of
    reading the properties of every response. Kept in step with every response written or
    changed. Derived data: counts per segment (plan, region), nothing personal, no contact;
    ``PropertyScore.objects.rebuild()`` recreates it.
    """

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)
    day = models.DateField()  # in the installation's time zone
    # The touchpoint's id, 0 for answers without one (link, widget): a unique key needs no NULL.
    touchpoint_key = models.PositiveIntegerField()
    value = models.CharField(max_length=PROPERTY_VALUE_MAX_LENGTH)
    score = models.SmallIntegerField()
    responses = models.IntegerField()

    objects = PropertyScoreQuerySet.as_manager()

    class Meta:
        constraints = [
            # The upsert's conflict target; also the dashboards' index: one survey's property over a period.
            models.UniqueConstraint(
                fields=["survey", "name", "day", "touchpoint_key", "value", "score"],
                name="property_score_unique_key",
            ),
            models.CheckConstraint(condition=models.Q(responses__gte=0), name="property_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id} {self.name}={self.value} {self.day} {self.score}: {self.responses}"


def rebuild_tallies() -> None:
    """Count every response afresh into both daily tallies, after bulk loads or to repair."""
    with transaction.atomic():
        DailyScore.objects.rebuild()
        PropertyScore.objects.rebuild()
