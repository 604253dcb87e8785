"""Rule templates: the cases admins write again and again, to adapt before adding.

Each template fills the "Add a rule" form with a rule and its comment. The relay in
each is `relay.example.net` (a reserved example name): the form refuses to add a
template unchanged, so nothing is saved without the admin's edit and confirmation.
No Django here; tests parse every template with the shared parser.
"""

from __future__ import annotations

from dataclasses import dataclass

PLACEHOLDER = "relay.example.net"


@dataclass(frozen=True)
class RuleTemplate:
    slug: str
    title: str
    text: str
    comment: str


TEMPLATES: tuple[RuleTemplate, ...] = (
    RuleTemplate(
        "microsoft-365",
        "Recipients hosted at Microsoft 365, through a relay",
        f"* {PLACEHOLDER}:587 $dnsmx:*.mail.protection.outlook.com $end",
        "Mail to domains whose MX is at Microsoft 365 goes through our relay",
    ),
    RuleTemplate(
        "google",
        "Recipients hosted at Google, through a relay",
        f"* {PLACEHOLDER}:587 $dnsmx:*.google.com $end",
        "Mail to domains whose MX is at Google goes through our relay",
    ),
    RuleTemplate(
        "googlemail",
        "Recipients on Google's older MX names (googlemail.com), through a relay",
        f"* {PLACEHOLDER}:587 $dnsmx:*.googlemail.com $end",
        "Mail to domains whose MX is at googlemail.com goes through our relay",
    ),
    RuleTemplate(
        "big-messages",
        "Big messages through a relay",
        f"* {PLACEHOLDER}:587 $size>10000000 $end",
        "Messages over 10 MB go through the relay instead of direct",
    ),
    RuleTemplate(
        "backup-after-retries",
        "After 3 failed tries, also use a backup relay",
        f"* {PLACEHOLDER} $retries>=3 $priority:20 $adddns",
        "After three failed attempts, the backup relay is tried as well as the real MX",
    ),
    RuleTemplate(
        "authenticated-user",
        "One authenticated user through a corporate relay",
        f"* user:password@{PLACEHOLDER}:587 $authsender=joe $end",
        "Mail submitted by joe goes through the corporate relay with its own login",
    ),
    RuleTemplate(
        "sender-provider",
        "A sender address through its own provider",
        f"* {PLACEHOLDER}:587 $from~=*@corp.example $end",
        "Mail from corp.example addresses goes through that domain's provider",
    ),
)

BY_SLUG = {template.slug: template for template in TEMPLATES}


def unchanged_template(text: str) -> RuleTemplate | None:
    """The template `text` still is, word for word (spaces aside), if any."""
    words = text.split()
    for template in TEMPLATES:
        if words == template.text.split():
            return template
    return None
