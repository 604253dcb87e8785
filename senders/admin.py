"""Django admin: senders with their rules inline, and the revision history read-only.

Rule changes made here go through `tables.replace_table` (source "Django admin")
like every other change: positions stay dense, a Revision is recorded, the text
is validated by the same parser and stored canonical. Relay passwords are shown
masked; a rule saved with the mask keeps its stored password.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html

from senders.adminqueries import StrictQueryAdmin, make_every_admin_strict
from senders.engine import OverrideSyntaxError, format_rule, parse_rule
from senders.models import MailSender, OverrideRule, Revision
from senders.roles import ADMIN
from senders.tables import StaleTable, replace_table
from senders.tabletext import (
    Entry,
    format_document,
    known_passwords,
    parse_document,
    restore_passwords,
)
from senders.validators import check_text, clean_rule_text, rule_error_message
from senders.views.common import actor_for


class OverrideRuleForm(forms.ModelForm):
    # Not the model's position: the rows are saved in this order, renumbered 1..n.
    order = forms.IntegerField(label="Position", required=False, min_value=1)

    class Meta:
        model = OverrideRule
        fields = ["text", "enabled", "comment"]
        widgets = {"text": forms.TextInput(attrs={"size": 70, "class": "vTextField"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Cleaning copies the (masked) input onto the instance: keep the stored rule apart.
        self.stored = Entry(self.instance.text, self.instance.enabled, self.instance.comment)
        if self.instance.pk:
            rule = parse_rule(self.instance.text)
            self.initial["text"] = format_rule(rule, mask_password=True)
            self.initial["order"] = self.instance.position

    def clean_text(self) -> str:
        return clean_rule_text(self.cleaned_data["text"])

    def clean_comment(self) -> str:
        # Stored in the table document as a "# ..." line: one line of plain text.
        return check_text(self.cleaned_data["comment"])


class RuleFormSet(BaseInlineFormSet):
    """Validates the whole table as it will be saved; `entries` is that table."""

    entries: list[tuple[Entry, OverrideRuleForm]]

    def clean(self) -> None:
        super().clean()
        self.entries = []
        if any(self.errors) or not self.has_changed():
            return
        if self.instance.pk:
            seen = self.data.get("table_revision")
            revisions = MailSender.objects.filter(pk=self.instance.pk)
            current = revisions.values_list("revision", flat=True).first()  # None: deleted
            if str(current) != seen:
                raise ValidationError(
                    f"The rules were changed by someone else since this page was opened (it "
                    f"showed revision {seen}, the table is now at revision {current}). Reload "
                    "the page to see their change; your rule changes were not saved.",
                    code="stale",
                )
        stored = known_passwords(
            OverrideRule.objects.filter(sender=self.instance.pk).values_list("text", flat=True)
        )
        rows: list[tuple[int, int, Entry, OverrideRuleForm]] = []
        for index, form in enumerate(self.forms):
            entry = self._entry(form, stored)
            if entry is not None:
                order = form.cleaned_data.get("order") or 1_000_000_000
                rows.append((order, index, entry, form))
        rows.sort(key=lambda row: row[:2])
        self.entries = [(entry, form) for _, _, entry, form in rows]

    def _entry(
        self, form: OverrideRuleForm, stored: dict[tuple[str, str, int], str]
    ) -> Entry | None:
        """The form's rule as it will be stored; None for a deleted or empty row."""
        if self._should_delete_form(form) or (not form.instance.pk and not form.has_changed()):
            return None
        if not form.has_changed():
            return form.stored
        data = form.cleaned_data
        entry = Entry(data["text"], data["enabled"], data["comment"])
        own = known_passwords([form.stored.text]) if form.instance.pk else {}
        try:
            return restore_passwords([entry], {**stored, **own})[0]
        except OverrideSyntaxError as exc:
            form.add_error("text", rule_error_message(exc))
            return None


class OverrideRuleInline(admin.TabularInline):
    model = OverrideRule
    form = OverrideRuleForm
    formset = RuleFormSet
    fields = ["order", "text", "password", "enabled", "comment"]
    readonly_fields = ["password", "position", "rule"]
    ordering = ["position"]
    extra = 1

    def get_queryset(self, request: HttpRequest) -> QuerySet[OverrideRule]:
        return super().get_queryset(request).select_related("sender")  # str(rule) reads it

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Read-only rows would show the model's text, password and all: show it masked.
        if self.has_change_permission(request, obj):
            return self.fields
        return ["position", "rule", "password", "enabled", "comment"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Adding needs the rule text field, which only editable rows have.
        return super().has_add_permission(request, obj) and self.has_change_permission(request, obj)

    @admin.display(description="Rule")
    def rule(self, rule: OverrideRule) -> str:
        return format_rule(parse_rule(rule.text), mask_password=True) if rule.text else ""

    @admin.display(description="Password")
    def password(self, rule: OverrideRule) -> str:
        if not rule.pk or not rule.text:
            return ""
        return "password set" if parse_rule(rule.text).server.password is not None else "—"


class MailSenderForm(forms.ModelForm):
    # The table revision the page showed: a rule save over someone else's change is refused.
    table_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = MailSender
        fields = ["name", "slug", "description", "enabled", "nameservers", "local_domains"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["table_revision"] = self.instance.revision

    def clean_name(self) -> str:
        return check_text(self.cleaned_data["name"])

    def clean_description(self) -> str:
        return check_text(self.cleaned_data["description"], multiline=True)


@admin.register(MailSender)
class MailSenderAdmin(StrictQueryAdmin):
    form = MailSenderForm
    inlines = [OverrideRuleInline]
    list_display = ["name", "slug", "enabled", "rule_count", "revision", "updated_at"]
    list_filter = ["enabled", "created_at", "updated_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["revision", "created_at", "updated_at", "last_fetched_at"]
    fields = [
        *MailSenderForm.Meta.fields,
        "table_revision",
        *readonly_fields,
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailSender]:
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="Rules", ordering="rule_count")
    def rule_count(self, sender: MailSender) -> int:
        return sender.rule_count

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if not isinstance(formset, RuleFormSet):
            return super().save_formset(request, form, formset, change)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not formset.has_changed():
            return None
        for position, (_, rule_form) in enumerate(formset.entries, start=1):
            rule_form.instance.position = position  # for the admin's change message
            if not rule_form.instance.pk:
                formset.new_objects.append(rule_form.instance)
            elif rule_form.has_changed():
                formset.changed_objects.append((rule_form.instance, rule_form.changed_data))
        formset.deleted_objects = [f.instance for f in formset.deleted_forms if f.instance.pk]
        replace_table(
            form.instance,
            [entry for entry, _ in formset.entries],
            actor=actor_for(request, Revision.Source.ADMIN),
            expected_revision=form.cleaned_data.get("table_revision"),
        )
        return None

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleTable as exc:  # someone saved between validation and save: all rolled back
            self.message_user(
                request,
                f"Nothing was saved: the rules were changed by someone else meanwhile (now at "
                f"revision {exc.current}). Review their change and make yours again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


@admin.register(Revision)
class RevisionAdmin(StrictQueryAdmin):
    """History is never rewritten: view only. Documents are shown with passwords masked."""

    list_display = ["sender", "number", "source", "author", "created_at", "message"]
    list_filter = ["source", "created_at"]
    list_select_related = ["sender", "author"]
    search_fields = ["sender__name", "sender__slug", "message"]
    fields = [
        "sender",
        "number",
        "source",
        "author",
        "remote_addr",
        "created_at",
        "message",
        "table",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["senders/admin.css"]}  # no inline styles: the CSP allows none

    @admin.display(description="Table")
    def table(self, revision: Revision) -> str:
        try:
            text = format_document(parse_document(revision.document), mask_passwords=True)
        except OverrideSyntaxError as exc:
            return f"(this snapshot cannot be shown: {exc})"
        return format_html('<pre class="revision-table">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Revision | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Revision | None = None) -> bool:
        return False


# ---------------------------------------------------------------- user accounts

# Only a superuser may make staff or superusers, or hand out permissions one by one.
SUPERUSER_ONLY = ("is_staff", "is_superuser", "user_permissions")


def grantable_groups(user: Any) -> QuerySet[Group]:
    """The groups `user` may give or take: none of the admin role, none with more rights."""
    if user.is_superuser:
        return Group.objects.all()
    held = user.get_all_permissions()
    groups = Group.objects.exclude(name=ADMIN).prefetch_related("permissions__content_type")
    return Group.objects.filter(
        pk__in=[
            group.pk
            for group in groups
            if {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()} <= held
        ]
    )


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(StrictQueryAdmin, auth_admin.UserAdmin):
    """The admin role manages accounts but cannot raise anyone's rights above its own.

    For a non-superuser: staff status, superuser status and single permissions are
    read-only (a POST carrying them is refused with 403), groups offer only the roles
    below the admin role (other memberships are kept as they are), and superusers'
    accounts (their password included) are read-only.
    """

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += SUPERUSER_ONLY
        return fields

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = grantable_groups(request.user)
            kwargs["help_text"] = (
                "The roles you may give. The admin role, and any group with rights you "
                "do not have, can be given or taken only by a superuser."
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        posted = request.POST if request.method == "POST" else {}
        if not request.user.is_superuser and any(name in posted for name in SUPERUSER_ONLY):
            raise PermissionDenied(
                "Only a superuser may change staff, superuser status or permissions."
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        kept = []
        if change and "groups" in form.cleaned_data:
            kept = list(form.instance.groups.exclude(pk__in=grantable_groups(request.user)))
        super().save_related(request, form, formsets, change)
        if kept:
            form.instance.groups.add(*kept)


# Last: auth's and axes' admins (registered before this module) get the same strict
# changelists as ours.
make_every_admin_strict(admin.site)
