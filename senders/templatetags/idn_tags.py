"""`{{ host|idn }}`: an international domain as people write it, its punycode on hover.

The engine keeps domains in their ASCII (punycode) form, as DNS and Postfix use
them; a person reads `bücher.example` better than `xn--bcher-kva.example`.
"""

from __future__ import annotations

import contextlib

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def to_unicode(domain: str) -> str:
    """`xn--` labels decoded; a label that is not valid punycode stays as it is."""
    labels = []
    for label in domain.split("."):
        if label[:4].lower() == "xn--":
            with contextlib.suppress(UnicodeError, ValueError):
                label = label[4:].lower().encode("ascii").decode("punycode") or label
        labels.append(label)
    return ".".join(labels)


@register.filter
def idn(domain: str) -> str | SafeString:
    shown = to_unicode(domain)
    if shown == domain:
        return domain
    return format_html('<span class="idn" title="{}">{}</span>', domain, shown)
