"""The widget script itself: small enough for any page, and never parsing text as HTML."""

import gzip
from pathlib import Path

from django.conf import settings

WIDGET = Path(settings.BASE_DIR, "static", "cxsurvey", "widget.js").read_text(encoding="utf-8")


def test_the_widget_is_under_15_kb_gzipped():
    assert len(gzip.compress(WIDGET.encode(), compresslevel=9)) < 15 * 1024


def test_the_widget_sets_text_only_and_stores_only_with_consent():
    for parser in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert parser not in WIDGET
    assert "document.cookie" not in WIDGET
    assert WIDGET.count("localStorage.setItem") == 1
    assert 'credentials: "omit"' in WIDGET
