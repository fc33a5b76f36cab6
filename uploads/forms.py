from django import forms

from projects.forms import people_choices
from ui.forms import ListFilterForm
from uploads.integrations import endpoint_problem
from uploads.models import StorageIntegration, UploadSession


class UploadSessionForm(forms.Form):
    """The Add Assets panel's details: both View Name and Capture Date are required before Continue (seed 003)."""

    asset_type = forms.ChoiceField(label="Asset type", widget=forms.RadioSelect)
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    view_name = forms.CharField(label="View name", max_length=120, help_text="What the files show, e.g. “North entrance, camera 2”.")
    capture_date = forms.DateField(label="Capture date", widget=forms.DateInput(attrs={"type": "date"}), help_text="The day the files were captured.")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["asset_type"].choices = [(t, UploadSession.AssetType(t).label) for t in project.asset_types]
        self.fields["source"].choices = UploadSession.Source.choices
        if len(project.asset_types) == 1:
            self.fields["asset_type"].initial = project.asset_types[0]
        self.fields["source"].initial = UploadSession.Source.DIRECT

    def clean_view_name(self) -> str:
        name = self.cleaned_data["view_name"].strip()
        if not name:
            raise forms.ValidationError("Enter a view name.")
        return name


class SessionFilterForm(ListFilterForm):
    """The Uploads tab's filters. `uploader` is offered to managers only: uploaders see their own sessions anyway."""

    lookups = {"q": "view_name__icontains", "status": "status", "uploader": "created_by_id"}

    q = forms.CharField(required=False, max_length=120, label="Search by view name")
    status = forms.ChoiceField(required=False, choices=[("", "All sessions"), *UploadSession.Status.choices])
    uploader = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Uploaded by")

    def __init__(self, *args, organization, can_manage: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if can_manage:
            self.fields["uploader"].choices = people_choices([organization], empty_label="Anyone")
        else:
            del self.fields["uploader"]


class UrlImportForm(forms.Form):
    """A CSV (seed 000) or JSON (seed 002) list of files to import into a session; JSON may name a storage integration."""

    list_file = forms.FileField(label="List file")
    integration = forms.ModelChoiceField(
        label="Storage",
        queryset=None,
        required=False,
        empty_label="Public URLs (fetched by the portal)",
        help_text="Choose a storage integration when the list names objects of your own bucket: they are read there, never copied.",
    )

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        is_json = session.source == UploadSession.Source.JSON
        self.fields["list_file"].label = "JSON file" if is_json else "CSV file"
        self.fields["list_file"].widget.attrs["accept"] = ".json,application/json" if is_json else ".csv,text/csv,text/plain"
        if is_json:
            self.fields["integration"].queryset = StorageIntegration.objects.filter(organization_id=session.project.organization_id)
        else:
            del self.fields["integration"]


class StorageIntegrationForm(forms.Form):
    """An S3-compatible bucket of the organization; the secret is write-only."""

    name = forms.CharField(max_length=120, help_text="How people pick it when they import, e.g. “Survey bucket”.")
    endpoint_url = forms.URLField(
        label="Endpoint URL", required=False, max_length=500, assume_scheme="https",
        help_text="Leave empty for AWS S3. For MinIO and other S3-compatible stores, their address, e.g. https://minio.example.com.",
    )
    region = forms.CharField(max_length=40, required=False, help_text="AWS region of the bucket; us-east-1 when empty.")
    bucket = forms.CharField(max_length=63)
    prefix = forms.CharField(max_length=500, required=False, help_text="Optional: only objects under this prefix may be imported.")
    access_key_id = forms.CharField(label="Access key ID", max_length=128)
    secret_access_key = forms.CharField(
        label="Secret access key", max_length=256, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again.",
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if StorageIntegration.objects.filter(organization=self.organization, name=name).exists():
            raise forms.ValidationError("An integration of this organization already has that name.")
        return name

    def clean_endpoint_url(self) -> str:
        url = self.cleaned_data["endpoint_url"].strip()
        problem = endpoint_problem(url)
        if problem:
            raise forms.ValidationError(problem)
        return url
