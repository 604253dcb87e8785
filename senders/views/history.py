"""History of a table: the list of revisions, one revision, a diff of two, rollback.

Viewers may read everything here (passwords are masked); rolling back is an edit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from senders.engine import OverrideSyntaxError
from senders.history import NothingToRollBack, changes_of, conflict_diff, diff_revisions
from senders.history import rollback as rollback_table
from senders.limits import expensive
from senders.models import MailSender, Revision
from senders.tables import StaleTable
from senders.tabletext import format_document, parse_document
from senders.validators import plain_line
from senders.views.common import actor_for, get_sender, posted_revision

VIEW = "senders.view_revision"
EDIT = "senders.change_overriderule"
PAGE_SIZE = 50


@login_required
@permission_required(VIEW, raise_exception=True)
@require_safe
def history(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    # Not the snapshots: at 10,000 rules each is about 500 kB, and the list shows none.
    revisions = sender.revisions.select_related("author").defer("document").order_by("-number")
    page = Paginator(revisions, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"sender": sender, "page": page, "a": max(sender.revision - 1, 0)}
    return render(request, "senders/history.html", context)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_safe
def revision(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    sender = get_sender(slug)
    revision = get_object_or_404(
        Revision.objects.select_related("author"), sender=sender, number=number
    )
    return _render_revision(request, sender, revision)


def _render_revision(
    request: HttpRequest, sender: MailSender, revision: Revision, status: int = 200, **extra: Any
) -> HttpResponse:
    context: dict[str, Any] = {"sender": sender, "rev": revision, **extra}
    try:
        entries = parse_document(revision.document)
        context["document"] = format_document(entries, mask_passwords=True)
        context["changes"] = changes_of(sender, revision.number, entries)
    except (OverrideSyntaxError, Revision.DoesNotExist) as error:
        context["unreadable"] = str(error)
    context["can_roll_back"] = request.user.has_perm(EDIT) and revision.number != sender.revision
    return render(request, "senders/revision.html", context, status=status)


@login_required
@permission_required(VIEW, raise_exception=True)
@require_safe
@expensive()
def diff(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    a, b, error = _revision_pair(request, sender)
    context: dict[str, Any] = {"sender": sender, "a": a, "b": b, "diff_error": error}
    if not error:
        try:
            context["diff"] = diff_revisions(sender, a, b)
        except OverrideSyntaxError as exc:
            context["diff_error"] = f"A revision can no longer be read: {exc}"
    template = "senders/diff.html#diff-table" if request.htmx else "senders/diff.html"
    return render(request, template, context, status=400 if context["diff_error"] else 200)


def _revision_pair(request: HttpRequest, sender: MailSender) -> tuple[int, int, str]:
    """`?a=N&b=M` (default: the latest change), or an error message saying what is wrong."""
    numbers = []
    for name, default in (("a", sender.revision - 1), ("b", sender.revision)):
        raw = request.GET.get(name, "").strip()
        if not raw:
            numbers.append(max(default, 0))
        elif not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # "²" is a digit to isdigit
            return 0, 0, f'"{name}" must be a revision number, not "{raw[:40]}".'
        else:
            numbers.append(int(raw))
    a, b = numbers
    existing = set(sender.revisions.filter(number__in=numbers).values_list("number", flat=True))
    for number in numbers:
        if number and number not in existing:
            have = f"1 to {sender.revision}" if sender.revision else "none yet"
            return a, b, f"Revision {number} does not exist (this table has revisions {have})."
    return a, b, ""


@login_required
@permission_required(EDIT, raise_exception=True)
@require_POST
def rollback(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    sender = get_sender(slug)
    target = get_object_or_404(
        Revision.objects.select_related("author"), sender=sender, number=number
    )
    reason = plain_line(request.POST.get("message", "")).strip()
    message = f"Rolled back to revision {number}" + (f": {reason}" if reason else "")
    actor = actor_for(request, Revision.Source.ROLLBACK, message)
    try:
        change = rollback_table(
            sender, number, actor=actor, expected_revision=posted_revision(request)
        )
    except StaleTable as stale:
        sender.refresh_from_db()
        return _render_revision(request, sender, target, 409, conflict=conflict_diff(stale))
    except NothingToRollBack as exc:
        messages.info(request, str(exc))
        return redirect("senders:history", slug)
    except OverrideSyntaxError as exc:
        sender.refresh_from_db()
        error = f"Revision {number} can no longer be restored: {exc}. Nothing was changed."
        return _render_revision(request, sender, target, 400, rollback_error=error)
    messages.success(
        request,
        f"Rolled back to revision {number}: the table is now at revision {change.revision.number}.",
    )
    return redirect("senders:history", slug)
