from django.urls import path

from senders.views import bulk, history, impact, relays, rules, senders, tester, tokens

app_name = "senders"

urlpatterns = [
    path("", senders.sender_list, name="index"),
    path("senders/new/", senders.sender_create, name="create"),
    path("senders/<slug:slug>/", rules.table, name="detail"),
    path("senders/<slug:slug>/edit/", senders.sender_edit, name="edit"),
    path("senders/<slug:slug>/delete/", senders.sender_delete, name="delete"),
    # One rule at a time.
    path("senders/<slug:slug>/rules/add/", rules.rule_add, name="rule_add"),
    path("senders/<slug:slug>/rules/validate/", rules.rule_validate, name="rule_validate"),
    path("senders/<slug:slug>/rules/<int:pk>/edit/", rules.rule_edit, name="rule_edit"),
    path("senders/<slug:slug>/rules/<int:pk>/delete/", rules.rule_delete, name="rule_delete"),
    path("senders/<slug:slug>/rules/<int:pk>/toggle/", rules.rule_toggle, name="rule_toggle"),
    path("senders/<slug:slug>/rules/<int:pk>/move/", rules.rule_move, name="rule_move"),
    path(
        "senders/<slug:slug>/rules/<int:pk>/acknowledge/",
        rules.rule_acknowledge,
        name="rule_acknowledge",
    ),
    # The whole table as text.
    path("senders/<slug:slug>/bulk/", bulk.bulk_edit, name="bulk"),
    path("senders/<slug:slug>/import/", bulk.bulk_import, name="import"),
    # Try a message against the saved table (or the bulk editor's unsaved text).
    path("senders/<slug:slug>/test/", tester.test_message, name="test"),
    path("senders/<slug:slug>/impact/", impact.impact, name="impact"),
    # History, diff, rollback.
    path("senders/<slug:slug>/history/", history.history, name="history"),
    path("senders/<slug:slug>/history/diff/", history.diff, name="diff"),
    path("senders/<slug:slug>/history/<int:number>/", history.revision, name="revision"),
    path(
        "senders/<slug:slug>/history/<int:number>/rollback/",
        history.rollback,
        name="rollback",
    ),
    # Check the relays of the table for real.
    path("senders/<slug:slug>/relays/", relays.relays, name="relays"),
    # Export token.
    path("senders/<slug:slug>/token/", tokens.token, name="token"),
]
