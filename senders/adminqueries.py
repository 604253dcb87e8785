"""Django admin changelists answer only the queries their page offers.

Out of the box a changelist accepts any lookup on the model's own fields from the
query string: `?document__contains=<guess>` on revisions says "2 results" for the
right relay password and "0 results" for a wrong one, and `__regex` recovers a
password in a few dozen requests. Every ModelAdmin of the site (ours, auth's,
axes') is made strict here:

- a query-string key must be one of the changelist's own parameters (page, sort,
  search, popup, facets…) or a parameter of one of its `list_filter` filters;
- a sort (`o`) must name sortable columns of the list by number;
- a filter value the filter cannot use (a junk date, a year out of range) is
  refused too, instead of a redirect or a 500.

Anything else answers 400 (`RefusedAdminQuery`) before any query runs, with the
same page whatever the values were. Search (`q`) goes to `search_fields`, which
never include rule text or revision documents (tests/security/test_admin_queries.py).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import admin
from django.contrib.admin.filters import FieldListFilter
from django.contrib.admin.options import (
    IS_FACETS_VAR,
    IS_POPUP_VAR,
    TO_FIELD_VAR,
    IncorrectLookupParameters,
)
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.views.main import (
    ALL_VAR,
    ERROR_FLAG,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
    ChangeList,
)
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db import DataError
from django.db.models import Field
from django.http import HttpRequest

# The changelist's own parameters; `_changelist_filters` is only carried along by links.
CHANGELIST_PARAMS = frozenset(
    {
        ALL_VAR,
        ORDER_VAR,
        PAGE_VAR,
        SEARCH_VAR,
        ERROR_FLAG,
        IS_POPUP_VAR,
        TO_FIELD_VAR,
        IS_FACETS_VAR,
    }
)

# Model fields that hold relay passwords (rule text, revision documents) or password
# hashes: never searched, sorted or filtered on, whatever an admin class declares.
SECRET_FIELDS = frozenset({"text", "document", "password"})

REFUSED = (
    "This list offers only the filters beside it, its search box and sorting by its "
    "column headers. Rule text and table snapshots, which hold relay passwords, can "
    "never be filtered, searched or sorted on. Open the list again from the menu."
)

_ORDER_PART = re.compile(r"-?[0-9]{1,4}")


class RefusedAdminQuery(SuspiciousOperation):
    """A changelist asked for a filter, lookup or sort its page does not offer (400)."""

    def __init__(self, reason: str) -> None:
        # The reason names parameters, never their values (a value may be a guess).
        super().__init__(reason)


class StrictQueryAdmin(admin.ModelAdmin):
    """A ModelAdmin whose changelist refuses any query its page does not offer."""

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        allowed = CHANGELIST_PARAMS | self.filter_parameters(request)
        if not self.get_search_fields(request):
            allowed -= {SEARCH_VAR}  # no search box: a search would be silently ignored
        unknown = sorted(set(request.GET) - allowed)
        if unknown:
            raise RefusedAdminQuery(f"Refused changelist parameters: {', '.join(unknown)}")
        self._check_ordering(request)
        try:
            return super().get_changelist_instance(request)
        except (
            IncorrectLookupParameters,
            ValidationError,
            ValueError,
            OverflowError,
            DataError,
        ) as exc:
            # A value the filter cannot use: a junk date, a year beyond the calendar.
            raise RefusedAdminQuery("Refused changelist filter values") from exc

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Only reached for keys that passed `filter_parameters`; secrets never do.
        return lookup.partition("__")[0] not in SECRET_FIELDS and super().lookup_allowed(
            lookup, value, request
        )

    def filter_parameters(self, request: HttpRequest) -> set[str]:
        """The query-string keys that this changelist's `list_filter` filters read."""
        keys: set[str] = set()
        for list_filter in self.get_list_filter(request):
            if isinstance(list_filter, type) and not issubclass(list_filter, FieldListFilter):
                spec = list_filter(request, {}, self.model, self)  # a SimpleListFilter
            else:
                if isinstance(list_filter, (tuple, list)):
                    field, filter_class = list_filter
                else:
                    field, filter_class = list_filter, FieldListFilter.create
                path = None
                if not isinstance(field, Field):
                    path = field
                    field = get_fields_from_path(self.model, path)[-1]
                if (path or field.name).partition("__")[0] in SECRET_FIELDS:
                    continue
                spec = filter_class(field, request, {}, self.model, self, field_path=path)
            keys.update(spec.expected_parameters())
        return keys

    def _check_ordering(self, request: HttpRequest) -> None:
        order = request.GET.get(ORDER_VAR)
        if not order:
            return
        columns = list(self.get_list_display(request))
        sortable = set(self.get_sortable_by(request))
        for part in order.split("."):
            if not _ORDER_PART.fullmatch(part):
                raise RefusedAdminQuery("Refused sort: not a column number")
            index = int(part.lstrip("-"))
            if index >= len(columns) or not self._sorts_safely(columns[index], sortable):
                raise RefusedAdminQuery("Refused sort: not a sortable column")

    def _sorts_safely(self, column: Any, sortable: set[Any]) -> bool:
        if column not in sortable:
            return False
        if callable(column) or not isinstance(column, str):
            order_field = getattr(column, "admin_order_field", None)
        elif hasattr(self, column):
            order_field = getattr(getattr(self, column), "admin_order_field", None)
        else:
            order_field = column
        if not isinstance(order_field, str):
            return order_field is not None  # an expression the admin class chose
        return order_field.lstrip("-").partition("__")[0] not in SECRET_FIELDS


def make_every_admin_strict(site: admin.AdminSite) -> None:
    """Re-register every ModelAdmin of `site` as a StrictQueryAdmin (auth's, axes'…)."""
    for model, model_admin in list(site._registry.items()):
        if isinstance(model_admin, StrictQueryAdmin):
            continue
        base = type(model_admin)
        strict = type(f"Strict{base.__name__}", (StrictQueryAdmin, base), {})
        strict.__module__ = base.__module__
        # In place: the registry's order is the order of the admin's index and URLs.
        site._registry[model] = strict(model, site)
