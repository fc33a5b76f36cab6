from django import forms
from django.forms.utils import pretty_name


class ListFilterForm(forms.Form):
    """The filters of a list page (GET): each field with a value narrows the list through its lookup in `lookups`.

    A value that does not fit is reported (the form's errors) and ignored; the filters that fit still apply, so
    a hand-edited URL never ends in a server error or an empty list for the wrong reason.
    """

    lookups: dict[str, str] = {}  # field name -> queryset lookup

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
                queryset = queryset.filter(**{lookup: value})
        return queryset

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in self.fields)
