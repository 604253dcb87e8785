"""Impact of a change: which recipients would be routed elsewhere.

Viewers may use it: it changes nothing. The form is posted (it may carry a file
and the bulk editor's unsaved text); a GET shows it, with `?a=&b=` from the
history diff. "Download CSV" posts the same form and answers with a file.
"""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from senders.engine.batch import impact_csv_rows
from senders.impact import LIMITS, ImpactForm, run_impact
from senders.limits import expensive
from senders.views.common import get_sender


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@require_http_methods(["GET", "POST"])
@expensive(when=lambda request: request.method == "POST")
def impact(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    data = request.POST if request.method == "POST" else request.GET
    has_text = "text" in data
    initial = {
        "compare": "text" if has_text else "revisions",
        "a": max(sender.revision - 1, 0),
        "b": sender.revision,
        "text": data.get("text", ""),
        "dns": "live",
    }
    for name in ("a", "b"):  # from the history diff's link
        value = data.get(name, "").strip()
        if value.isascii() and value.isdigit() and len(value) <= 9:
            initial[name] = int(value)
    run = request.method == "POST" and data.get("run") in ("page", "csv")
    form = ImpactForm(
        data if run else None, request.FILES if run else None, initial=initial, sender=sender
    )
    context = {"sender": sender, "form": form, "limits": LIMITS}
    if not run or not form.is_valid():
        return render(request, "senders/impact.html", context, status=400 if run else 200)
    report = run_impact(sender, form.cleaned_data)
    if data["run"] == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="impact-{sender.slug}.csv"'
        csv.writer(response).writerows(impact_csv_rows(report.impact))
        return response
    return render(request, "senders/impact.html", {**context, "report": report})
