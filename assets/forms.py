from django import forms

from assets.models import Asset
from projects.forms import people_choices
from ui.forms import ListFilterForm


class AssetFilterForm(ListFilterForm):
    """The Assets tab's filters."""

    lookups = {"q": "name__icontains", "status": "status", "type": "asset_type", "uploader": "uploaded_by_id"}

    q = forms.CharField(required=False, max_length=200, label="Search by name")
    status = forms.ChoiceField(required=False, choices=[("", "All statuses"), *Asset.Status.choices])
    type = forms.ChoiceField(required=False, choices=[("", "All types"), *Asset.Type.choices])
    uploader = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Uploaded by")

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["uploader"].choices = people_choices(organization, empty_label="Anyone")
