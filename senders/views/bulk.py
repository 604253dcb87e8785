"""The whole table as text: the bulk editor, and import of the same text from a file.

Saving is all or nothing (`tables.replace_table`): one bad line and nothing changes,
every error is listed with its line, and the typed (or uploaded) text stays in the
textarea.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from senders.engine import PASSWORD_MASK, OverrideSyntaxError
from senders.history import conflict_diff
from senders.limits import expensive
from senders.lint import lint_entries
from senders.models import MailSender, Revision
from senders.tables import StaleTable, document_of, replace_table
from senders.tabletext import Entry, known_passwords, restore_passwords
from senders.validators import clean_document, plain_line
from senders.views.common import actor_for, database_trouble, get_sender, posted_revision

EDIT_PERMS = (
    "senders.add_overriderule",
    "senders.change_overriderule",
    "senders.delete_overriderule",
)


class BulkForm(forms.Form):
    text = forms.CharField(
        label="Table text",
        required=False,
        strip=False,
        widget=forms.Textarea,
    )

    def __init__(self, *args: object, sender: MailSender, upload_error: str = "", **kwargs: object):
        super().__init__(*args, **kwargs)
        self.sender = sender
        self.upload_error = upload_error
        self.entries: list[Entry] = []
        # The parser reports NUL and other control characters with their line and column.
        self.fields["text"].validators = []

    def clean_text(self) -> str:
        if self.data.get("text") is None:  # a junk post must not empty the table
            raise ValidationError("No table text was sent.", code="missing")
        text: str = self.cleaned_data["text"]
        errors = [ValidationError(self.upload_error, code="encoding")] if self.upload_error else []
        try:
            self.entries = check_document(text, self.sender)
        except ValidationError as exc:
            errors.extend(exc.error_list)
        if errors:
            raise ValidationError(errors)
        return text


def check_document(text: str, sender: MailSender) -> list[Entry]:
    """Every error of a table document, including masks that stand for no stored password."""
    entries = clean_document(text)
    if PASSWORD_MASK in text:
        stored = sender.rules.values_list("text", flat=True)
        try:
            restore_passwords(entries, known_passwords(stored))
        except OverrideSyntaxError as exc:
            raise ValidationError(
                [ValidationError(str(error), code="password") for error in exc.errors]
            ) from exc
    return entries


class ImportForm(forms.Form):
    file = forms.FileField(label="Table file")
    mode = forms.ChoiceField(
        label="What to do with the file",
        choices=[
            ("replace", "Replace the whole table with the file"),
            ("append", "Add the file's rules to the end of the table"),
        ],
        initial="replace",
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        limit = settings.MAX_TABLE_UPLOAD_BYTES
        if upload.size is not None and upload.size > limit:
            raise ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is "
                f"{filesizeformat(limit)}. Split it, or remove comments and unused rules.",
                code="too_big",
            )
        return upload


def decode_upload(data: bytes, first_line: int = 1) -> tuple[str, str]:
    """The file as text, and an error pointing at the first byte that is not UTF-8.

    On error the text still comes back (bad bytes shown as U+FFFD) so that the
    admin sees the whole file in the editor and loses nothing. `first_line` is the
    editor line the file starts at (appending puts it after the stored table).
    """
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is not part of line 1
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + first_line
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        return data.decode("utf-8", "replace"), (
            f"line {line}, col {column}: the file is not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x}); save it as UTF-8 and upload it again"
        )


def _render(
    request: HttpRequest,
    sender: MailSender,
    form: BulkForm,
    *,
    revision: int,
    import_form: ImportForm | None = None,
    status: int = 200,
    **extra: object,
) -> HttpResponse:
    if form.is_bound and form.is_valid():
        extra.setdefault(
            "lint_warnings",
            lint_entries(
                form.entries, sender.local_domain_list, postfix=sender.follows_postfix_agent
            ),
        )
    context = {
        "sender": sender,
        "form": form,
        "revision": revision,
        "import_form": import_form or ImportForm(),
        "can_edit": request.user.has_perms(EDIT_PERMS),
        "max_upload": settings.MAX_TABLE_UPLOAD_BYTES,
        **extra,
    }
    template = "senders/bulk.html#verdict" if request.htmx else "senders/bulk.html"
    return render(request, template, context, status=status)


def _save(
    request: HttpRequest,
    sender: MailSender,
    form: BulkForm,
    *,
    source: str,
    message: str = "",
    **extra: object,
) -> HttpResponse:
    """Replace the table with the form's text, or show why not (nothing changed)."""
    revision = posted_revision(request)
    if form.is_valid():
        actor = actor_for(request, source, message=message)
        try:
            change = replace_table(sender, form.entries, actor=actor, expected_revision=revision)
        except StaleTable as exc:
            # Show what is saved now and let the admin save over it knowingly.
            current = document_of(exc.sender, mask_passwords=True)
            return _render(
                request,
                sender,
                form,
                revision=exc.current,
                status=409,
                stale=str(exc),
                current=current,
                conflict=conflict_diff(exc, user_document=form.cleaned_data["text"]),
                saving=True,
                **extra,
            )
        except OverrideSyntaxError as exc:  # a masked password's rule changed meanwhile
            for error in exc.errors:
                form.add_error("text", str(error))
        except DatabaseError as exc:
            extra |= {"stale": database_trouble(exc), "status": 503}
        else:
            count = len(change.entries)
            plural = "" if count == 1 else "s"
            messages.success(
                request,
                f"Saved the table: {count} rule{plural} (revision {change.revision.number}).",
            )
            return redirect("senders:detail", sender.slug)
    # Rejected input is a 400, as on the rule form; the text stays in the textarea.
    status = extra.pop("status", 400 if form.errors else 200)
    return _render(request, sender, form, revision=revision, saving=True, status=status, **extra)


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@expensive(when=lambda request: request.method == "POST")
def bulk_edit(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the table as text. POST: validate (default, also live via htmx) or save."""
    sender = get_sender(slug)
    if request.method != "POST":
        initial = {"text": document_of(sender, mask_passwords=True)}
        return _render(
            request, sender, BulkForm(initial=initial, sender=sender), revision=sender.revision
        )
    form = BulkForm(request.POST, sender=sender)
    if request.POST.get("action") == "save":
        if not request.user.has_perms(EDIT_PERMS):
            raise PermissionDenied
        return _save(request, sender, form, source=Revision.Source.BULK)
    form.is_valid()
    revision = posted_revision(request)
    return _render(request, sender, form, revision=sender.revision if revision < 0 else revision)


@login_required
@permission_required(EDIT_PERMS, raise_exception=True)
@expensive(when=lambda request: request.method == "POST")
def bulk_import(request: HttpRequest, slug: str) -> HttpResponse:
    """Replace the table with an uploaded file, or append the file to it; all or nothing."""
    sender = get_sender(slug)
    if request.method != "POST":
        return redirect(reverse("senders:bulk", args=[sender.slug]) + "#import")
    import_form = ImportForm(request.POST, request.FILES)
    if not import_form.is_valid():
        initial = {"text": document_of(sender, mask_passwords=True)}
        form = BulkForm(initial=initial, sender=sender)
        return _render(
            request, sender, form, revision=sender.revision, import_form=import_form, status=400
        )
    upload, mode = import_form.cleaned_data["file"], import_form.cleaned_data["mode"]
    # Appending shows (and, on errors, keeps) the stored table above the file's lines.
    existing = document_of(sender, mask_passwords=True) if mode == "append" else ""
    first_line = existing.count("\n") + 1
    text, upload_error = decode_upload(upload.read(), first_line)
    form = BulkForm({"text": existing + text}, sender=sender, upload_error=upload_error)
    return _save(
        request,
        sender,
        form,
        source=Revision.Source.IMPORT,
        message=f"import of {plain_line(upload.name or '')} ({mode})",
        import_form=import_form,
        first_line=first_line,
    )
