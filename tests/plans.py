"""PostgreSQL's query plans, for the tests that a lookup can use its index."""

from django.db import connection
from django.db.models import QuerySet


def plan_on_a_large_table(query: QuerySet) -> str:
    """The plan of ``query`` as on a large table, where a scan of every row is the last resort.
    Call it inside the test's transaction: the setting lasts until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())
