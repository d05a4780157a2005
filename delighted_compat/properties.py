"""Delighted's properties as CXSurvey keeps them, the same through the API and the importer.

Delighted took any name for a property ("Purchase Experience", "Größe"); CXSurvey's names are
letters, digits and ``_ . -`` (``surveys.properties``), so that the dashboards can filter by
them. A name that is not one is spelled as the nearest that is. ``locale`` keeps its meaning:
the person's language.
"""

import hashlib
import re
import unicodedata

from surveys.scales import LANGUAGES

_TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)


def property_name(header: str) -> str:
    """The property a column becomes: its header where that is a valid property name (letters,
    digits, ``_ . -``, up to 64), else spaces turned into ``_``, umlauts spelled out and other
    characters left out ("Purchase Experience" → "Purchase_Experience", "Größe" → "Groesse");
    ``column_<n>`` for a header with nothing left."""
    name = "_".join(header.strip().split()).translate(_TRANSLITERATION)
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_.-]", "", name)[:64]
    return name or "column_" + hashlib.sha256(header.encode()).hexdigest()[:8]


def locale_language(properties: dict) -> str:
    """de or en from a ``locale`` property such as "de", "de-AT" or "en_US"; else ""."""
    locale = str(properties.get("locale") or "").lower()[:2]
    return locale if locale in LANGUAGES else ""
