"""The terms of every comment compared with a fresh analysis, for the suite's guard."""

from surveys.models import Response
from surveys.terms import comment_fields


def stale_comment_terms() -> list[tuple[int, dict, dict]]:
    """(id, stored terms, fresh terms) of each response whose search terms or terms for insights
    differ from what its comment and language give now; empty when every one is fresh."""
    rows = Response.objects.order_by("pk").values_list(
        "pk", "comment", "language", "comment_terms", "comment_ngrams"
    )
    stale = []
    for pk, comment, language, terms, ngrams in rows:
        stored = {"comment_terms": terms, "comment_ngrams": ngrams}
        if stored != (fresh := comment_fields(comment, language)):
            stale.append((pk, stored, fresh))
    return stale
