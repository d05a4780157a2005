"""A fired alert as Slack and Microsoft Teams incoming webhooks take it.

Slack: ``{"text", "blocks"}`` (the text is the notification's fallback; Block Kit's mrkdwn
escapes only &, < and >). Teams: a legacy MessageCard, which Teams' incoming webhooks and
Workflows' "post to a channel when a webhook request is received" both accept.
"""

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import override

from followup.links import response_link
from followup.models import AlertRule
from surveys.models import Response

COMMENT_EXCERPT = 300


def excerpt(comment: str) -> str:
    """The comment on one line, cut to ``COMMENT_EXCERPT`` characters."""
    comment = " ".join(comment.split())
    return comment if len(comment) <= COMMENT_EXCERPT else comment[: COMMENT_EXCERPT - 1] + "…"


def _facts(rule: AlertRule, response: Response) -> dict[str, str]:
    where = str(rule.survey)
    if response.touchpoint_id:
        where += f" / {response.touchpoint}"
    return {
        "title": _("Alert: %(rule)s") % {"rule": rule.name},
        "score": _("Score %(score)d (%(category)s)")
        % {"score": response.score, "category": response.category},
        "where": where,
        "comment": excerpt(response.comment),
        "open": _("Open the response"),
        "link": response_link(response),
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(rule: AlertRule, response: Response) -> dict:
    with override(settings.LANGUAGE_CODE):
        facts = {key: _slack_escape(value) for key, value in _facts(rule, response).items()}
    lines = [f"*{facts['title']}*", f"{facts['score']} · {facts['where']}"]
    if facts["comment"]:
        lines.append(f"> {facts['comment']}")
    text = "\n".join(lines)
    return {
        "text": f"{facts['title']}: {facts['score']}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": facts["open"]},
                        "url": facts["link"],
                    }
                ],
            },
        ],
    }


def teams_payload(rule: AlertRule, response: Response) -> dict:
    with override(settings.LANGUAGE_CODE):
        facts = _facts(rule, response)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": facts["title"],
        "themeColor": "D9534F",
        "title": facts["title"],
        "sections": [
            {"activityTitle": facts["score"], "activitySubtitle": facts["where"], "text": facts["comment"]}
        ],
        "potentialAction": [
            {"@type": "OpenUri", "name": facts["open"], "targets": [{"os": "default", "uri": facts["link"]}]}
        ],
    }
