from django import forms

from assets.models import Asset
from projects.forms import people_choices


class AssetFilterForm(forms.Form):
    """The Assets tab's filters; values that do not fit are reported, never a server error."""

    q = forms.CharField(required=False, max_length=200, label="Search by name")
    status = forms.ChoiceField(required=False, choices=[("", "All statuses"), *Asset.Status.choices])
    type = forms.ChoiceField(required=False, choices=[("", "All types"), *Asset.Type.choices])
    uploader = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Uploaded by")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["uploader"].choices = people_choices(organization, empty_label="Anyone")

    def filter(self, queryset):
        # Filters that fit still apply when another one does not: only the latter is ignored (and reported).
        self.is_valid()
        data = self.cleaned_data
        if data.get("q"):
            queryset = queryset.filter(name__icontains=data["q"])
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("type"):
            queryset = queryset.filter(asset_type=data["type"])
        if data.get("uploader"):
            queryset = queryset.filter(uploaded_by_id=data["uploader"])
        return queryset

    @property
    def is_filtering(self) -> bool:
        return self.is_bound and any(self.data.get(name) for name in ("q", "status", "type", "uploader"))
