"""The installation's legal information in tests, and reading it back out of pages and emails."""

from dataclasses import dataclass, field
from html.parser import HTMLParser

from django.utils import translation

from surveys.models import LegalInformation

GERMAN = {
    "company_name_de": "Kessler Haustechnik GmbH",
    "address_de": "Hauptstraße 5\n80331 München\nDeutschland",
    "privacy_url_de": "https://www.kessler.example/datenschutz",
    "impressum_url_de": "https://www.kessler.example/impressum",
}
ENGLISH = {
    "company_name_en": "Kessler Building Technology GmbH",
    "address_en": "Hauptstrasse 5\n80331 Munich\nGermany",
    "privacy_url_en": "https://www.kessler.example/en/privacy",
    "impressum_url_en": "https://www.kessler.example/en/imprint",
}


def set_legal_information(**fields) -> LegalInformation:
    """The installation's one row of legal information, with these fields (the others empty)."""
    LegalInformation.objects.filter(pk=LegalInformation.ONLY_ID).delete()
    return LegalInformation.objects.create(**fields)


def label(text: str, language: str) -> str:
    """What the catalogue makes of a text in a language (the text itself until it is translated)."""
    with translation.override(language):
        return translation.gettext(text)


@dataclass
class Footer:
    """What a page's legal footer shows: its texts, and its links by id (href, text, attributes)."""

    texts: list[str] = field(default_factory=list)
    links: dict[str, dict] = field(default_factory=dict)


class _FooterParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.footers: list[Footer] = []
        self.depth = 0  # inside <footer class="legal"> while positive
        self.link: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "footer" and attributes.get("class") == "legal":
            self.footers.append(Footer())
            self.depth = 1
        elif self.depth and tag == "footer":
            self.depth += 1
        elif self.depth and tag == "a":
            self.link = {**attributes, "text": ""}

    def handle_endtag(self, tag):
        if self.depth and tag == "footer":
            self.depth -= 1
        elif self.link is not None and tag == "a":
            self.footers[-1].links[self.link.get("id", "")] = self.link
            self.link = None

    def handle_data(self, data):
        if self.link is not None:
            self.link["text"] += data.strip()
        elif self.depth and data.strip():
            self.footers[-1].texts.append(data.strip())


def legal_footers(html: str) -> list[Footer]:
    parser = _FooterParser()
    parser.feed(html)
    return parser.footers
