"""The senders: a searchable list, and create, edit, delete for admins."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods

from senders.forms import SenderForm
from senders.models import MailSender, OverrideRule, Revision
from senders.views.common import get_sender

SENDERS_PER_PAGE = 100


def _with_counts(senders: QuerySet[MailSender]) -> QuerySet[MailSender]:
    """Rule count and last change as subqueries: one query, however big the tables."""
    rules = (
        OverrideRule.objects.filter(sender=OuterRef("pk"))
        .order_by()
        .values("sender")
        .annotate(n=Count("pk"))
        .values("n")
    )
    latest = Revision.objects.filter(sender=OuterRef("pk")).order_by("-number")
    return senders.annotate(
        rule_count=Coalesce(Subquery(rules, output_field=IntegerField()), 0),
        last_change=Subquery(latest.values("created_at")[:1]),
        last_change_by=Subquery(latest.values("author__username")[:1]),
    )


@login_required
@permission_required("senders.view_mailsender", raise_exception=True)
@require_GET
def sender_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]  # PostgreSQL refuses NUL
    senders = MailSender.objects.order_by("name", "slug")
    if q:
        senders = senders.filter(
            Q(name__icontains=q) | Q(slug__icontains=q) | Q(description__icontains=q)
        )
    page = Paginator(_with_counts(senders), SENDERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"page_obj": page, "q": q}
    partial = request.htmx and not request.htmx.history_restore_request
    template = "senders/sender_list.html#list" if partial else "senders/sender_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@permission_required("senders.add_mailsender", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sender_create(request: HttpRequest) -> HttpResponse:
    form = SenderForm(request.POST) if request.method == "POST" else SenderForm()
    if form.is_bound and form.is_valid():
        sender = form.save()
        messages.success(request, f'Sender "{sender.name}" created. Add its first rule below.')
        return redirect(sender)
    status = 400 if form.errors else 200
    return render(request, "senders/sender_form.html", {"form": form}, status=status)


@login_required
@permission_required("senders.change_mailsender", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sender_edit(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    if request.method == "POST":
        form = SenderForm(request.POST, instance=sender)
        if form.is_valid():
            sender = form.save()
            messages.success(request, f'Sender "{sender.name}" saved.')
            if sender.slug != slug:
                messages.warning(request, _export_moved(request, slug, sender.slug))
            return redirect(sender)
    else:
        form = SenderForm(instance=sender)
    context = {"form": form, "sender": MailSender.objects.get(pk=sender.pk)}
    return render(request, "senders/sender_form.html", context, status=400 if form.errors else 200)


def _export_moved(request: HttpRequest, old: str, new: str) -> str:
    def url(slug: str) -> str:
        return request.build_absolute_uri(reverse("export_text", args=[slug]))

    return (
        f"The export URL changed from {url(old)} to {url(new)}: delivery agents still "
        "fetching the old URL get 401 until they are given the new one."
    )


@login_required
@permission_required("senders.delete_mailsender", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sender_delete(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    if request.method == "POST":
        name, count = sender.name, sender.rules.count()
        sender.delete()
        plural = "" if count == 1 else "s"
        messages.success(request, f'Sender "{name}" deleted, with its {count} rule{plural}.')
        return redirect("senders:index")
    context = {
        "sender": sender,
        "rule_count": sender.rules.count(),
        "revision_count": sender.revisions.count(),
        "export_url": request.build_absolute_uri(reverse("export_text", args=[sender.slug])),
    }
    return render(request, "senders/sender_confirm_delete.html", context)
