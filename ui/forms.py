"""Helpers the pages of every app share (htmx requests, list filters; their templates in templates/ui/).

The lowest layer: it imports no app of the portal (docs/ARCHITECTURE.md).
"""
from collections.abc import Callable

from django import forms
from django.db.models import Q
from django.forms.utils import pretty_name


class ListFilterForm(forms.Form):
    """The filters of a list page (GET): each field with a value narrows the list through its lookup in `lookups`.

    A lookup is a queryset lookup ("status"), or a function of the cleaned value that returns a Q (a value that
    means "none", like "no project"). A form with `orderings` also sorts: its `sort` field names one of them, the
    first being the default.

    A value that does not fit is reported (the form's errors) and ignored; the filters that fit still apply, so
    a hand-edited URL never ends in a server error or an empty list for the wrong reason.
    """

    lookups: dict[str, str | Callable[[object], Q]] = {}  # field name -> queryset lookup, or value -> Q
    orderings: dict[str, tuple[str, ...]] = {}  # sort value -> order_by() fields (the first is the default)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The filters show no <label> (a select's first option says what it filters): each is named by its field's label.
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("aria-label", field.label or pretty_name(name))

    def filter(self, queryset):
        self.is_valid()
        for name, lookup in self.lookups.items():
            value = self.cleaned_data.get(name)
            if value:
                queryset = queryset.filter(lookup(value) if callable(lookup) else Q(**{lookup: value}))
        return queryset

    def order(self, queryset):
        """The queryset in the order the `sort` field asks for (the default one when it asks for none or another)."""
        if not self.orderings:
            return queryset
        self.is_valid()
        sort = self.cleaned_data.get("sort") if hasattr(self, "cleaned_data") else None
        return queryset.order_by(*self.orderings.get(sort or "", next(iter(self.orderings.values()))))

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields if name != "sort")
