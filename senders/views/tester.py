"""Test a message against the saved table, or against the bulk editor's unsaved text.

One view renders the same result fragment for errors and for results: htmx asks
for it as the form changes; without JavaScript a GET (or, with unsaved text, a
POST) renders the whole page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from senders.limits import expensive
from senders.tester import TesterForm, run_test
from senders.views.common import get_sender


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@require_http_methods(["GET", "POST"])
@expensive(when=lambda request: (request.POST or request.GET).get("table") == "text")
def test_message(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "POST" and request.GET:
        # The impact page's buttons post the text and a recipient, with that recipient's
        # message (sender, size, …) in the address: what the body does not say, it says.
        merged = request.GET.copy()
        for key in request.POST:
            merged.setlist(key, request.POST.getlist(key))
        data = merged
    # Unsaved text comes from the bulk editor's "Test this text" button (a POST).
    has_text = "text" in data
    initial = {"table": "text" if has_text else "saved", "text": data.get("text", "")}
    bound = "recipients" in data
    form = TesterForm(data if bound else None, initial=initial, sender=sender)
    report = run_test(sender, form.cleaned_data) if bound and form.is_valid() else None
    context = {"sender": sender, "form": form, "report": report, "has_text": has_text}
    template = "senders/tester.html#result" if request.htmx else "senders/tester.html"
    # A test that cannot run because of what was typed is a 400, like every refused form.
    return render(request, template, context, status=400 if form.errors else 200)
