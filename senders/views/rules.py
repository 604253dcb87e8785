"""A sender's table page: the rules in order, and changing them one at a time.

Every change goes through `senders.tables` (locks, dense positions, revisions).
Without JavaScript each action is a form post answered by a redirect back to the
table; with htmx the same view answers with the `rules` region of `table.html`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from senders import tables
from senders.engine import PASSWORD_MASK, OverrideSyntaxError
from senders.engine.lint import LintWarning
from senders.export import export_status
from senders.forms import AddRuleForm, RuleForm, RuleSummary, describe_rule
from senders.history import conflict_diff
from senders.lint import lint_context, lint_sender
from senders.models import MailSender, OverrideRule, RelayCheck
from senders.relaycheck import relay_key as key_of_relay
from senders.rule_templates import BY_SLUG, TEMPLATES
from senders.tables import StaleTable
from senders.tabletext import Entry, rule_at
from senders.views.common import actor_for, database_trouble, get_sender, posted_revision

RULES_PER_PAGE = 200
MOVE_WORDS = ("up", "down", "top", "bottom")


@dataclass(frozen=True)
class Row:
    """One rule as the table shows it: masked text and breakdown, never the password."""

    pk: int
    position: int
    enabled: bool
    comment: str
    summary: RuleSummary | None
    warnings: tuple[LintWarning, ...] = ()
    relay: RelayCheck | None = None  # the last check of the relay this rule names
    relay_key: str = ""  # senders.relaycheck.Relay.key of that relay


def _row(rule: OverrideRule, warnings: Sequence[LintWarning] = ()) -> Row:
    relay, relay_key = None, ""
    try:
        parsed = rule_at(rule.text, rule.position)
        summary: RuleSummary | None = describe_rule(parsed)
    except OverrideSyntaxError:
        summary = None  # stored before a parser change; the text may hold a password
    else:
        server = parsed.server
        relay_key = key_of_relay(server.host, server.port, server.username)
        relay = _relay_checks(rule.sender).get(relay_key)
    return Row(
        rule.pk,
        rule.position,
        rule.enabled,
        rule.comment,
        summary,
        tuple(warnings),
        relay,
        relay_key,
    )


def _relay_checks(sender: MailSender) -> dict[str, RelayCheck]:
    """The last relay checks of a sender, read once per request (kept on the instance)."""
    checks: dict[str, RelayCheck] | None = getattr(sender, "_relay_checks", None)
    if checks is None:
        checks = {check.relay: check for check in sender.relay_checks.all()}
        sender._relay_checks = checks  # type: ignore[attr-defined]
    return checks


def _page_of(position: int) -> int:
    return (max(position, 1) - 1) // RULES_PER_PAGE + 1


def table_url(sender: MailSender, position: int | None = None, pk: int | None = None) -> str:
    """The table page showing `position` (its page), at the rule `pk`."""
    url = reverse("senders:detail", args=[sender.slug])
    if position is not None:
        url += f"?page={_page_of(position)}"
    return url + (f"#rule-{pk}" if pk else "")


def _render_table(
    request: HttpRequest,
    sender: MailSender,
    *,
    page: Any = None,
    position: int | None = None,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    """The table page, or only its `rules` region for htmx; `position` picks the page."""
    fields = ("pk", "sender_id", "position", "text", "enabled", "comment")
    rules = sender.rules.order_by("position").only(*fields)
    paginator = Paginator(rules, RULES_PER_PAGE)
    page_obj = paginator.get_page(_page_of(position) if position is not None else page)
    lint = lint_context(sender)
    by_line: dict[int, list[LintWarning]] = defaultdict(list)
    for warning in lint["lint_warnings"]:
        by_line[warning.line].append(warning)
    context = {
        "sender": sender,
        "page_obj": page_obj,
        "rows": [_row(rule, by_line.get(rule.position, ())) for rule in page_obj],
        "can_edit": request.user.has_perm("senders.change_overriderule"),
        "can_add": request.user.has_perm("senders.add_overriderule"),
        "can_delete": request.user.has_perm("senders.delete_overriderule"),
        "add_form": AddRuleForm(auto_id="add-%s"),
        "rule_templates": TEMPLATES,
        "export_status": export_status(sender),
        **lint,
        **extra,
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "senders/table.html#rules" if partial else "senders/table.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(
    request: HttpRequest,
    sender: MailSender,
    notice: str,
    position: int,
    pk: int | None = None,
    *,
    changed: Sequence[int] = (),
    shown: int | None = None,
    removed: int | None = None,
    warnings_before: dict[int, Shown] | None = None,
    table: list[Entry] | None = None,
) -> HttpResponse:
    """A change went through: show the page that holds `position`.

    With htmx, when the rule was on that page already (`shown`: its position before
    the change), only what changed comes back: the rules `changed` (and `removed`), the
    rule that slides onto the page after a delete, the warnings that changed
    (`warnings_before`, by rule), counts, pager and revision, as out-of-band swaps.
    Everything else on the page (an "Add a rule" or an edit in progress) stays as is.
    `table`: the whole table the change read for its revision (tables.Change.table).
    """
    if request.htmx:
        if table is not None:  # this revision's warnings, without reading the rules again
            lint_sender(sender, table)
        if shown is not None and _page_of(shown) == _page_of(position):
            count = len(table) if table is not None else None
            page = _page_of(position)
            return _render_changes(
                request, sender, page, notice, changed, removed, warnings_before, count
            )
        return _whole_region(_render_table(request, sender, position=position, notice=notice))
    messages.success(request, notice)
    return redirect(table_url(sender, position, pk))


def _whole_region(response: HttpResponse) -> HttpResponse:
    """Row actions swap nothing by themselves; this answer replaces the whole region."""
    return reswap(retarget(response, "#rules"), "outerHTML")


def _page_rules(sender: MailSender, page: int) -> list[OverrideRule]:
    start = (page - 1) * RULES_PER_PAGE
    fields = ("pk", "sender_id", "position", "text", "enabled", "comment")
    return list(sender.rules.order_by("position").only(*fields)[start : start + RULES_PER_PAGE])


Shown = tuple[tuple[LintWarning, int | None], ...]  # a rule's warnings, each acknowledged or not


def _warnings_by_pk(sender: MailSender, places: Iterable[tuple[int, int]]) -> dict[int, Shown]:
    """The warnings of each rule, by its id; `places`: (id, position) of each rule."""
    lint = lint_context(sender)
    acknowledged = lint["lint_acknowledged"]
    by_line: dict[int, list[tuple[LintWarning, int | None]]] = defaultdict(list)
    for warning in lint["lint_warnings"]:
        ack = acknowledged.get((warning.line, warning.code))
        by_line[warning.line].append((warning, ack.pk if ack else None))
    return {pk: tuple(by_line.get(position, ())) for pk, position in places}


def _plain(shown: Shown) -> tuple[LintWarning, ...]:
    return tuple(warning for warning, _ in shown)


def _warnings_on_page(sender: MailSender, position: int) -> dict[int, Shown]:
    """The warnings beside each rule of the page holding `position`, before a change."""
    start = (_page_of(position) - 1) * RULES_PER_PAGE
    places = sender.rules.order_by("position").values_list("pk", "position")
    return _warnings_by_pk(sender, places[start : start + RULES_PER_PAGE])


def _render_changes(
    request: HttpRequest,
    sender: MailSender,
    page: int,
    notice: str,
    changed: Sequence[int],
    removed: int | None,
    warnings_before: dict[int, Shown] | None,
    count: int | None = None,
    *,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """`count`: how many rules the table holds, when the caller knows. `error`: shown as
    an alert instead of `notice` (a refusal that changed nothing)."""
    rules = _page_rules(sender, page)
    warnings = _warnings_by_pk(sender, [(rule.pk, rule.position) for rule in rules])
    before = warnings_before or {}
    rows = []
    warning_rows = []
    for rule in rules:
        if rule.pk in changed or rule.pk not in before:
            # Changed, or new on this page (it slid up from the next page after a delete).
            oob = "true" if rule.pk in changed and rule.pk in before else "beforeend:#rules tbody"
            rows.append((_row(rule, _plain(warnings[rule.pk])), oob))
        elif warnings[rule.pk] != before[rule.pk]:
            warning_rows.append(_row(rule, _plain(warnings[rule.pk])))
    count = sender.rules.count() if count is None else count
    paginator = Paginator(range(count), RULES_PER_PAGE)
    context = {
        "sender": sender,
        "page_obj": paginator.get_page(page),
        "oob_rows": rows,
        "warning_rows": warning_rows,
        "removed": removed,
        "notice": notice,
        "error": error,
        "can_edit": request.user.has_perm("senders.change_overriderule"),
        "can_delete": request.user.has_perm("senders.delete_overriderule"),
        **lint_context(sender),
    }
    return render(request, "senders/table.html#changes", context, status=status)


def relay_checked(
    request: HttpRequest,
    sender: MailSender,
    position: int,
    relay_key: str,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """After "Check relay" on the rule at `position` (htmx): the verdict (or why no check
    ran) in the table's messages, and the rows of that page that use the relay, with
    their new badge. Nothing else on the page changes, an edit in progress included."""
    page = _page_of(position)
    before = _warnings_on_page(sender, position)
    changed = [rule.pk for rule in _page_rules(sender, page) if _row(rule).relay_key == relay_key]
    return _render_changes(
        request, sender, page, notice, changed, None, before, error=error, status=status
    )


def _refused(
    request: HttpRequest,
    sender: MailSender,
    error: str,
    status: int,
    position: int | None = None,
    **extra: Any,
) -> HttpResponse:
    response = _render_table(
        request, sender, position=position, error=error, status=status, **extra
    )
    return _whole_region(response) if request.htmx else response


def _stale(request: HttpRequest, error: StaleTable, position: int) -> HttpResponse:
    """A toggle, move or delete on a table that changed meanwhile: show what changed."""
    message = (
        f"This table was changed by someone else since you opened it (you saw revision "
        f"{error.expected}, it is now at revision {error.current}). Nothing was changed: "
        "here is the current table; try again."
    )
    return _refused(request, error.sender, message, 409, position, conflict=conflict_diff(error))


def _find_rule(sender: MailSender, pk: int) -> OverrideRule | None:
    return sender.rules.filter(pk=pk).first()


def _gone(request: HttpRequest, sender: MailSender) -> HttpResponse:
    message = "That rule no longer exists: someone may have deleted it. Here is the current table."
    if request.htmx:
        return _refused(request, sender, message, 409)
    messages.error(request, message)
    return redirect(table_url(sender))


def _shown_revision(request: HttpRequest, sender: MailSender) -> int:
    """The revision of the page a GET came from (`?revision=`), else the current one."""
    value = request.GET.get("revision", "")
    return (
        int(value) if value.isascii() and value.isdigit() and len(value) < 10 else sender.revision
    )


# ---------------------------------------------------------------- the table


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@require_GET
def table(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    row = request.GET.get("row", "")
    if request.htmx and row.isascii() and row.isdigit() and len(row) < 10:
        return _one_row(request, sender, int(row))
    extra = {}
    template = BY_SLUG.get(request.GET.get("template", ""))
    if template is not None:  # "Start from a template": fill the add form, save nothing
        initial = {"text": template.text, "comment": template.comment}
        extra["add_form"] = AddRuleForm(auto_id="add-%s", initial=initial)
        extra["chosen_template"] = template
    return _render_table(request, sender, page=request.GET.get("page"), **extra)


def _one_row(request: HttpRequest, sender: MailSender, pk: int) -> HttpResponse:
    """One rule's row, as the table shows it (closing its edit or delete question)."""
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    paginator = Paginator(range(sender.rules.count()), RULES_PER_PAGE)
    warnings = _warnings_by_pk(sender, [(rule.pk, rule.position)])[rule.pk]
    context = {
        "sender": sender,
        "row": _row(rule, _plain(warnings)),
        "lint_acknowledged": lint_context(sender)["lint_acknowledged"],
        "page_obj": paginator.get_page(_page_of(rule.position)),
        "can_edit": request.user.has_perm("senders.change_overriderule"),
        "can_delete": request.user.has_perm("senders.delete_overriderule"),
    }
    response = render(request, "senders/_rule_row.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@require_POST
def rule_validate(request: HttpRequest, slug: str) -> HttpResponse:
    """Live validation: the parser's verdict on the typed rule, as a fragment."""
    sender = get_sender(slug)
    form = RuleForm({"text": request.POST.get("text", "")})
    if form.is_valid() and form.rule is not None and form.rule.server.password == PASSWORD_MASK:
        # The mask keeps a stored password only for the same user, host and port: ask
        # the save's own rule (an edit keeps its rule's password; an added rule, any).
        editing = _find_rule(sender, _rule_id(request.GET.get("rule")))
        keep = [editing.text] if editing is not None else ()
        try:
            tables.canonical(form.cleaned_data["text"], sender, keep_password_of=keep)
        except OverrideSyntaxError as error:
            form.parser_error(error)
    return render(request, "senders/_rule_verdict.html", {"verdict": form.verdict})


def _rule_id(value: str | None) -> int:
    """A posted rule id, or 0 (no rule has it) for anything else."""
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else 0


@login_required
@permission_required("senders.add_overriderule", raise_exception=True)
@require_POST
def rule_add(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    form = AddRuleForm(request.POST, auto_id="add-%s")
    if not form.is_valid():
        return _add_refused(request, sender, form)
    data = form.cleaned_data
    try:
        change = tables.add_rule(
            sender,
            data["text"],
            actor=actor_for(request),
            enabled=data["enabled"],
            comment=data["comment"],
            position=data["position"],
            expected_revision=posted_revision(request),
        )
    except StaleTable as error:
        return _render_table(
            request,
            error.sender,
            add_form=form,
            add_oob=bool(request.htmx),
            error=str(error),
            conflict=conflict_diff(error),
            status=409,
        )
    except OverrideSyntaxError as error:
        form.parser_error(error)
        return _add_refused(request, sender, form)
    except DatabaseError as error:
        trouble = database_trouble(error)
        return _render_table(
            request, sender, add_form=form, add_oob=bool(request.htmx), error=trouble, status=503
        )
    assert change.rule is not None
    position = change.rule.position
    notice = f"Rule added at position {position}."
    if request.htmx:  # the region, and an empty form in place of the one just sent
        if change.table is not None:
            lint_sender(change.sender, change.table)  # without reading the rules again
        return _render_table(request, change.sender, position=position, notice=notice, add_oob=True)
    return _done(request, change.sender, notice, position, pk=change.rule.pk)


def _add_refused(request: HttpRequest, sender: MailSender, form: AddRuleForm) -> HttpResponse:
    """The rule cannot be added: with htmx only the form comes back, with its error."""
    if not request.htmx:
        return _render_table(request, sender, add_form=form, status=400)
    context = {"sender": sender, "add_form": form, "can_add": True, "rule_templates": TEMPLATES}
    response = render(request, "senders/table.html#add", context, status=400)
    return reswap(retarget(response, "#add-rule"), "outerHTML")


def _edit_response(
    request: HttpRequest, sender: MailSender, rule: OverrideRule, form: RuleForm, **extra: Any
) -> HttpResponse:
    """The edit form: a row swapped into the table (htmx) or a page of its own."""
    in_table = bool(request.htmx)
    # On a page of its own (no JavaScript, or a link followed before htmx took it over)
    # the cursor waits in the rule field, as it does in the table's inline edit row.
    context = {
        "sender": sender,
        "rule": rule,
        "form": form,
        "in_table": in_table,
        "focus_rule": not in_table,
    }
    context |= {"current": _row(rule), "page": _page_of(rule.position)}
    context |= {"revision": sender.revision, **extra}
    template = "senders/rule_edit.html#row" if request.htmx else "senders/rule_edit.html"
    return render(request, template, context, status=400 if form.errors else 200)


@login_required
@permission_required("senders.change_overriderule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    sender = get_sender(slug)
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    if request.method == "GET":
        row = _row(rule)
        initial = {"text": row.summary.text if row.summary else "", "comment": rule.comment}
        form = RuleForm(initial={**initial, "enabled": rule.enabled}, auto_id=f"rule-{pk}-%s")
        return _edit_response(
            request, sender, rule, form, revision=_shown_revision(request, sender)
        )
    form = RuleForm(request.POST, auto_id=f"rule-{pk}-%s")
    if form.is_valid():
        return _save_edit(request, sender, rule, form)
    response = _edit_response(request, sender, rule, form, revision=posted_revision(request))
    if request.htmx:  # the form aims at the whole table; an error replaces only its row
        reswap(retarget(response, f"#rule-{pk}"), "outerHTML")
    return response


def _save_edit(
    request: HttpRequest, sender: MailSender, rule: OverrideRule, form: RuleForm
) -> HttpResponse:
    data = form.cleaned_data
    before = _warnings_on_page(sender, rule.position) if request.htmx else None
    try:
        change = tables.update_rule(
            rule,
            actor=actor_for(request),
            text=data["text"],
            enabled=data["enabled"],
            comment=data["comment"],
            expected_revision=posted_revision(request),
        )
    except StaleTable as error:
        fresh = _find_rule(error.sender, rule.pk)
        if fresh is None:
            return _gone(request, error.sender)
        if request.htmx:
            editing = {"rule": fresh, "form": form}
            return _whole_region(_render_table(
                request, error.sender, position=fresh.position, editing=editing,
                error=str(error), conflict=conflict_diff(error), status=409,
            ))  # fmt: skip
        response = _edit_response(
            request, error.sender, fresh, form, error=str(error), conflict=conflict_diff(error)
        )
        response.status_code = 409
        return response
    except OverrideSyntaxError as error:
        form.parser_error(error)
        response = _edit_response(request, sender, rule, form, revision=posted_revision(request))
        if request.htmx:
            reswap(retarget(response, f"#rule-{rule.pk}"), "outerHTML")
        return response
    except DatabaseError as error:
        trouble = database_trouble(error)
        if request.htmx:  # as for a stale edit: the table, the message, the row still open
            editing = {"rule": rule, "form": form}
            return _whole_region(_render_table(
                request, sender, position=rule.position, editing=editing, error=trouble,
                status=503,
            ))  # fmt: skip
        response = _edit_response(
            request, sender, rule, form, revision=posted_revision(request), error=trouble
        )
        response.status_code = 503
        return response
    assert change.rule is not None
    position = change.rule.position
    return _done(
        request, change.sender, f"Rule {position} saved.", position, pk=rule.pk,
        changed=[rule.pk], shown=rule.position, warnings_before=before, table=change.table,
    )  # fmt: skip


def _confirm_delete(request: HttpRequest, sender: MailSender, rule: OverrideRule) -> HttpResponse:
    """Without JS a page of its own; with htmx the rule's row turns into the question."""
    context = {"sender": sender, "rule": rule, "row": _row(rule), "in_table": bool(request.htmx)}
    context |= {"revision": _shown_revision(request, sender), "page": _page_of(rule.position)}
    template = "senders/rule_confirm_delete.html"
    return render(request, template + "#row" if request.htmx else template, context)


@login_required
@permission_required("senders.delete_overriderule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    sender = get_sender(slug)
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    if request.method == "GET":
        return _confirm_delete(request, sender, rule)
    before = _warnings_on_page(sender, rule.position) if request.htmx else None
    try:
        change = tables.delete_rule(
            rule, actor=actor_for(request), expected_revision=posted_revision(request)
        )
    except StaleTable as error:
        return _stale(request, error, rule.position)
    assert change.rule is not None
    position = change.rule.position
    remaining = len(change.table) if change.table is not None else change.sender.rules.count()
    return _done(
        request, change.sender, f"Rule {position} deleted.", min(position, remaining),
        shown=position if remaining else None, removed=rule.pk, warnings_before=before,
        table=change.table,
    )  # fmt: skip


@login_required
@permission_required("senders.change_overriderule", raise_exception=True)
@require_POST
def rule_toggle(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    sender = get_sender(slug)
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    wanted = request.POST.get("enabled", "")
    if wanted not in ("0", "1"):
        return _refused(request, sender, "Choose whether the rule is enabled.", 400, rule.position)
    before = _warnings_on_page(sender, rule.position) if request.htmx else None
    try:
        change = tables.update_rule(
            rule,
            actor=actor_for(request),
            enabled=wanted == "1",
            expected_revision=posted_revision(request),
        )
    except StaleTable as error:
        return _stale(request, error, rule.position)
    assert change.rule is not None
    state = "enabled" if change.rule.enabled else "disabled: it is kept but not used"
    position = change.rule.position
    return _done(
        request, change.sender, f"Rule {position} {state}.", position, pk=rule.pk,
        changed=[rule.pk], shown=rule.position, warnings_before=before, table=change.table,
    )  # fmt: skip


def _move_target(to: str, rule: OverrideRule, count: int) -> int | None:
    """Where `to` (up, down, top, bottom or a position number) sends the rule, or None."""
    targets = {"up": rule.position - 1, "down": rule.position + 1, "top": 1, "bottom": count}
    if to in targets:
        return min(max(targets[to], 1), count)
    if to.isascii() and to.isdigit() and 0 < len(to) < 10 and int(to) >= 1:
        return min(int(to), count)
    return None


@login_required
@permission_required("senders.change_overriderule", raise_exception=True)
@require_POST
def rule_move(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    sender = get_sender(slug)
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    target = _move_target(request.POST.get("to", "").strip(), rule, sender.rules.count())
    if target is None:
        message = "Choose where to move the rule: up, down, top, bottom or a position from 1."
        return _refused(request, sender, message, 400, rule.position)
    if target == rule.position and posted_revision(request) == sender.revision:
        notice = f"Rule {rule.position} is already there."
        return _done(
            request, sender, notice, rule.position, pk=rule.pk, changed=[rule.pk],
            shown=rule.position, warnings_before=_warnings_on_page(sender, rule.position),
        )  # fmt: skip
    before = _warnings_on_page(sender, rule.position) if request.htmx else None
    try:
        change = tables.move_rule(
            rule, target, actor=actor_for(request), expected_revision=posted_revision(request)
        )
    except StaleTable as error:
        return _stale(request, error, rule.position)
    notice = f"Rule {rule.position} moved to position {target}."
    return _done(
        request, change.sender, notice, target, pk=rule.pk, changed=[rule.pk],
        shown=rule.position, warnings_before=before, table=change.table,
    )  # fmt: skip


@login_required
@permission_required("senders.change_overriderule", raise_exception=True)
@require_POST
def rule_acknowledge(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Mark a warning on a rule as intended: it stops counting; history records who and when."""
    sender = get_sender(slug)
    rule = _find_rule(sender, pk)
    if rule is None:
        return _gone(request, sender)
    code = request.POST.get("code", "")
    warnings = _warnings_on_page(sender, rule.position)
    if code not in {warning.code for warning, _ in warnings.get(rule.pk, ())}:
        message = f"Rule {rule.position} has no such warning to mark as intended."
        return _refused(request, sender, message, 400, rule.position)
    try:
        change = tables.acknowledge_warning(
            rule, code, actor=actor_for(request), expected_revision=posted_revision(request)
        )
    except StaleTable as error:
        return _stale(request, error, rule.position)
    notice = f"Rule {rule.position}: the warning is marked as intended."
    return _done(
        request, change.sender, notice, rule.position, pk=rule.pk, changed=[rule.pk],
        shown=rule.position, warnings_before=warnings, table=change.table,
    )  # fmt: skip
