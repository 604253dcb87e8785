"""Django admin: senders, their rules (a paginated list per sender, one rule per form),
the revision history read-only, and user accounts.

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
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import escape, format_html

from senders.adminqueries import StrictQueryAdmin, make_every_admin_strict
from senders.engine import OverrideSyntaxError
from senders.history import masked
from senders.models import MailSender, OverrideRule, Revision
from senders.roles import ADMIN
from senders.tables import StaleTable, replace_table
from senders.tabletext import (
    Entry,
    format_document,
    has_credentials,
    known_passwords,
    parse_document,
    restore_passwords,
)
from senders.validators import check_text, clean_rule_text, rule_error_message
from senders.views.common import actor_for


class RuleAdminForm(forms.ModelForm):
    """One rule of a table, edited in place: its position, text, state and comment."""

    # Not the model's field (unique per sender): the place the rule is saved at.
    order = forms.IntegerField(
        label="Position",
        required=False,
        min_value=1,
        help_text="1 puts the rule first; empty, or past the end of the table: last.",
    )
    # The table revision the page showed: a save over someone else's change is refused.
    table_revision = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = OverrideRule
        fields = ["sender", "text", "enabled", "comment"]
        widgets = {"text": forms.TextInput(attrs={"size": 70, "class": "vTextField"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entries: list[Entry] = []
        self.place = 0  # the rule's position once saved
        if self.instance.pk:
            # Cleaning copies the (masked) input onto the instance: keep the stored text.
            self.stored_text = self.instance.text
            self.initial["text"] = masked(self.instance.text)
            self.initial["order"] = self.instance.position
            self.initial["table_revision"] = self.instance.sender.revision

    def clean_text(self) -> str:
        return clean_rule_text(self.cleaned_data["text"])

    def clean_comment(self) -> str:
        # Stored in the table document as a "# ..." line: one line of plain text.
        return check_text(self.cleaned_data["comment"])

    def clean(self) -> dict[str, Any]:
        """The whole table as it will be saved, with this rule in its place."""
        data = super().clean()
        sender = data.get("sender") or getattr(self.instance, "sender", None)
        if self.errors or sender is None:
            return data
        rules = list(
            sender.rules.order_by("position").values_list("pk", "text", "enabled", "comment")
        )
        others = [Entry(t, e, c) for pk, t, e, c in rules if pk != self.instance.pk]
        entry = Entry(data["text"], data["enabled"], data["comment"])
        own = known_passwords([self.stored_text]) if self.instance.pk else {}
        try:
            stored = known_passwords(text for _, text, _, _ in rules)
            entry = restore_passwords([entry], {**stored, **own})[0]
        except OverrideSyntaxError as exc:
            self.add_error("text", rule_error_message(exc))
            return data
        wanted = data.get("order") or len(others) + 1
        self.place = min(wanted, len(others) + 1)
        self.entries = [*others[: self.place - 1], entry, *others[self.place - 1 :]]
        return data


@admin.register(OverrideRule)
class OverrideRuleAdmin(StrictQueryAdmin):
    class Media:
        css = {"all": ["senders/admin.css"]}  # no inline styles: the CSP allows none

    """A table's rules, a page at a time (a sender's page links here, filtered by sender).

    Every save goes through `tables.replace_table` (source "Django admin"): positions
    stay dense, a Revision is recorded, the text is validated by the same parser and
    stored canonical. Passwords are shown masked; the mask keeps the stored password.
    """

    form = RuleAdminForm
    list_display = ["position", "rule", "password", "enabled", "comment", "sender"]
    list_display_links = ["rule"]
    list_filter = ["sender"]
    list_select_related = ["sender"]
    list_per_page = 100
    sortable_by: list[str] = []  # a table is read in its own order
    ordering = ["sender", "position"]
    actions = None  # deleting rules goes one at a time, through the table
    readonly_fields = ["password", "rule"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if not self.has_change_permission(request, obj) and obj is not None:
            # Read-only fields would show the stored text, password and all.
            return ["sender", "position", "rule", "password", "enabled", "comment"]
        fields = ["sender", "order", "text", "enabled", "comment", "table_revision"]
        return [*fields[:3], "password", *fields[3:]] if obj is not None else fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(self.readonly_fields)
        return [*readonly, "sender"] if obj is not None else readonly

    @admin.display(description="Rule")
    def rule(self, rule: OverrideRule) -> str:
        return masked(rule.text) if rule.text else ""

    @admin.display(description="Password")
    def password(self, rule: OverrideRule) -> str:
        if not rule.pk or not has_credentials(rule.text):
            return "—"
        return "password set"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        sender = form.cleaned_data.get("sender") or obj.sender
        replace_table(
            sender,
            form.entries,
            actor=actor_for(request, Revision.Source.ADMIN),
            expected_revision=form.cleaned_data.get("table_revision") if change else None,
        )
        # The rules were written anew: the saved rule is the one at its position.
        saved = sender.rules.get(position=form.place)
        obj.pk, obj.position, obj.text = saved.pk, saved.position, saved.text

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        entries = [
            Entry(text, enabled, comment)
            for text, enabled, comment in obj.sender.rules.exclude(pk=obj.pk)
            .order_by("position")
            .values_list("text", "enabled", "comment")
        ]
        replace_table(obj.sender, entries, actor=actor_for(request, Revision.Source.ADMIN))

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleTable as exc:  # someone saved since the page was opened: nothing written
            self.message_user(
                request,
                f"Nothing was saved: the rules were changed by someone else since this page "
                f"was opened (now at revision {exc.current}). Review their change and make "
                "yours again.",
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())


class MailSenderForm(forms.ModelForm):
    class Meta:
        model = MailSender
        fields = ["name", "slug", "description", "enabled", "nameservers", "local_domains"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:  # the admin shows help texts unescaped
            self.fields["slug"].help_text = escape(self.fields["slug"].help_text)

    def clean_name(self) -> str:
        return check_text(self.cleaned_data["name"])

    def clean_description(self) -> str:
        return check_text(self.cleaned_data["description"], multiline=True)


@admin.register(MailSender)
class MailSenderAdmin(StrictQueryAdmin):
    class Media:
        css = {"all": ["senders/admin.css"]}  # no inline styles: the CSP allows none

    """Senders; their rules are edited in the rule list (a link here), never inline:
    a table of 10,000 rules must not become 10,000 forms."""

    form = MailSenderForm
    list_display = ["name", "slug", "enabled", "rule_count", "revision", "updated_at"]
    list_filter = ["enabled", "created_at", "updated_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["rules", "revision", "created_at", "updated_at", "last_fetched_at"]
    fields = [*MailSenderForm.Meta.fields, *readonly_fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[MailSender]:
        queryset = super().get_queryset(request).select_related("fetch")  # last_fetched_at
        return queryset.annotate(rule_count=Count("rules"))

    @admin.display(description="Rules", ordering="rule_count")
    def rule_count(self, sender: MailSender) -> int:
        return sender.rule_count

    @admin.display(description="Rules")
    def rules(self, sender: MailSender) -> str:
        if not sender.pk:
            return "Save the sender first, then add its rules."
        rules = reverse("admin:senders_overriderule_changelist")
        add = reverse("admin:senders_overriderule_add")
        return format_html(
            '<a href="{}?sender__id__exact={}">Rules ({}) →</a> · '
            '<a href="{}?sender={}">Add a rule</a>',
            rules,
            sender.pk,
            sender.rules.count(),
            add,
            sender.pk,
        )


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
