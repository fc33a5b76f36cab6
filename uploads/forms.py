from django import forms

from projects.forms import people_choices
from ui.forms import ListFilterForm
from uploads import integrations_azure, integrations_gcs
from uploads.integrations import endpoint_problem
from uploads.models import StorageIntegration, UploadSession


class UploadSessionForm(forms.Form):
    """The Add Assets panel's details: both View Name and Capture Date are required before Continue (seed 003)."""

    asset_type = forms.ChoiceField(label="Asset type", widget=forms.RadioSelect)
    source = forms.ChoiceField(label="Source", widget=forms.RadioSelect)
    view_name = forms.CharField(label="View name", max_length=120, help_text="What the files show, e.g. “North entrance, camera 2”.")
    capture_date = forms.DateField(label="Capture date", widget=forms.DateInput(attrs={"type": "date"}), help_text="The day the files were captured.")

    def __init__(self, *args, project, **kwargs):
        """`project`: the project the files join, or None for the library (which takes both types)."""
        super().__init__(*args, **kwargs)
        types = project.asset_types if project is not None else list(UploadSession.AssetType.values)
        self.fields["asset_type"].choices = [(t, UploadSession.AssetType(t).label) for t in types]
        self.fields["source"].choices = UploadSession.Source.choices
        if len(types) == 1:
            self.fields["asset_type"].initial = types[0]
        self.fields["source"].initial = UploadSession.Source.DIRECT

    def clean_view_name(self) -> str:
        name = self.cleaned_data["view_name"].strip()
        if not name:
            raise forms.ValidationError("Enter a view name.")
        return name


class LibrarySessionForm(UploadSessionForm):
    """Add Assets from the Assets page: the same details, with the project optional. Without one, the files join the
    library of the chosen organization (of those where the person may upload)."""

    LIBRARY = "library:"

    destination = forms.ChoiceField(label="Add to", help_text="A project, or the library: assets move into a project later.")

    field_order = ["destination", "asset_type", "source", "view_name", "capture_date"]

    def __init__(self, *args, organizations: list, projects: list, **kwargs):
        """`organizations` and `projects`: those the person may add assets to."""
        super().__init__(*args, project=None, **kwargs)
        self.organizations = {str(o.pk): o for o in organizations}
        self.projects = {str(p.pk): p for p in projects}
        choices = []
        for organization in organizations:
            library = f"The library of {organization.name}" if len(organizations) > 1 else "No project (the library)"
            own = [(str(p.pk), p.name) for p in projects if p.organization_id == organization.pk]
            choices.append((organization.name, [(self.LIBRARY + str(organization.pk), library), *own]))
        self.fields["destination"].choices = choices if len(organizations) > 1 else choices[0][1] if choices else []
        if organizations:
            self.fields["destination"].initial = self.LIBRARY + str(organizations[0].pk)

    def clean(self):
        cleaned = super().clean()
        destination = cleaned.get("destination", "")
        cleaned["project"] = self.projects.get(destination)
        cleaned["organization"] = self.organizations.get(destination.removeprefix(self.LIBRARY))
        project = cleaned["project"]
        if project is not None and cleaned.get("asset_type") and not project.accepts(cleaned["asset_type"]):
            self.add_error("asset_type", f"{project.name} does not take {cleaned['asset_type']}s.")
        if project is None and cleaned.get("source") not in (None, UploadSession.Source.DIRECT):
            self.add_error(None, "Lists of URLs are imported into a project: choose one, or upload the files directly.")
        return cleaned


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


class SecretTextarea(forms.Textarea):
    """A textarea that never renders what was typed into it, as PasswordInput(render_value=False) for one line."""

    def format_value(self, value):
        return None


class StorageIntegrationForm(forms.Form):
    """A bucket of the organization: Amazon S3 (or S3-compatible), Google Cloud Storage, or an Azure Blob Storage
    container. The form holds only the fields of the chosen provider; every secret is write-only."""

    Provider = StorageIntegration.Provider
    # The fields each provider asks for, in the order the page shows them.
    FIELDS = {
        Provider.S3: ["name", "provider", "endpoint_url", "region", "bucket", "prefix", "access_key_id", "secret_access_key"],
        Provider.GCS: ["name", "provider", "bucket", "prefix", "service_account_key", "endpoint_url"],
        Provider.AZURE: ["name", "provider", "account", "container", "prefix", "credential", "azure_secret", "endpoint_url"],
    }
    ENDPOINT_HELP = {
        Provider.S3: "Leave empty for AWS S3. For MinIO and other S3-compatible stores, their address, e.g. https://minio.example.com.",
        Provider.GCS: "Leave empty for Google Cloud Storage (https://storage.googleapis.com). Set only for a compatible store or an emulator.",
        Provider.AZURE: "Leave empty for Azure (https://&lt;account&gt;.blob.core.windows.net). Set only for Azure Stack or Azurite, e.g. http://127.0.0.1:10000/devstoreaccount1.",
    }

    name = forms.CharField(max_length=120, help_text="How people pick it when they import, e.g. “Survey bucket”.")
    # Which provider's fields were shown; a post without it is S3's, as before providers were offered.
    provider = forms.ChoiceField(choices=Provider.choices, widget=forms.HiddenInput, required=False)
    endpoint_url = forms.URLField(label="Endpoint URL", required=False, max_length=500, assume_scheme="https")
    region = forms.CharField(max_length=40, required=False, help_text="AWS region of the bucket; us-east-1 when empty.")
    bucket = forms.CharField(max_length=222)
    account = forms.RegexField(
        label="Storage account", max_length=24, regex=r"^[a-z0-9]{3,24}$",
        error_messages={"invalid": "A storage account name has 3 to 24 lowercase letters and digits."},
        help_text="The account's name, as in https://&lt;account&gt;.blob.core.windows.net.",
    )
    container = forms.RegexField(
        max_length=63, regex=r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$",
        error_messages={"invalid": "A container name has 3 to 63 lowercase letters, digits and single hyphens."},
    )
    prefix = forms.CharField(max_length=500, required=False, help_text="Optional: only objects under this prefix may be imported.")
    access_key_id = forms.CharField(label="Access key ID", max_length=128)
    secret_access_key = forms.CharField(
        label="Secret access key", max_length=256, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again.",
    )
    service_account_key = forms.CharField(
        label="Service-account key (JSON)", max_length=20000, strip=False,
        widget=SecretTextarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false", "class": "mono",
                                     "placeholder": '{"type": "service_account", "client_email": "…", "private_key": "…", …}'}),
        help_text="Paste the whole JSON key file of a service account with the Storage Object Viewer role. Stored encrypted "
                  "and never shown again; links to files are signed with it and expire in minutes.",
    )
    credential = forms.ChoiceField(
        label="Sign in with", widget=forms.RadioSelect,
        choices=[(StorageIntegration.Credential.SAS_TOKEN, "SAS token"), (StorageIntegration.Credential.ACCOUNT_KEY, "Account key")],
        initial=StorageIntegration.Credential.SAS_TOKEN,
        help_text="A SAS token needs the read and list permissions on the container. With the account key, each link the "
                  "portal shows is a read-only SAS of its own for one file that expires in minutes; with a SAS token, the "
                  "portal serves the files through its own expiring links and never shows the token.",
    )
    azure_secret = forms.CharField(
        label="SAS token or account key", max_length=2000, strip=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again.",
    )

    def __init__(self, *args, organization, provider: str = Provider.S3, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        chosen = self.data.get("provider", provider) if self.is_bound else provider
        self.chosen = chosen if chosen in self.FIELDS else self.Provider.S3
        self.fields = {name: self.fields[name] for name in self.FIELDS[self.chosen]}
        self.fields["provider"].initial = self.chosen
        self.fields["endpoint_url"].help_text = self.ENDPOINT_HELP[self.chosen]
        if self.chosen == self.Provider.GCS:
            self.fields["bucket"].help_text = "The bucket's name, as in gs://&lt;bucket&gt;/."

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

    def clean_service_account_key(self) -> str:
        text = self.cleaned_data["service_account_key"].strip()
        problem = integrations_gcs.key_problem(text)
        if problem:
            raise forms.ValidationError(problem)
        return text

    def clean(self) -> dict:
        data = super().clean()
        secret = data.get("azure_secret")
        if self.chosen == self.Provider.AZURE and secret and data.get("credential"):
            if data["credential"] == StorageIntegration.Credential.SAS_TOKEN:
                problem = integrations_azure.sas_problem(secret)
            else:
                problem = integrations_azure.account_key_problem(secret)
            if problem:
                self.add_error("azure_secret", problem)
        return data

    def integration_fields(self) -> dict:
        """The keyword arguments of uploads.integrations.integration_create for what was entered."""
        data = dict(self.cleaned_data, provider=self.chosen)
        if self.chosen == self.Provider.GCS:
            data["secret"] = data.pop("service_account_key")
        elif self.chosen == self.Provider.AZURE:
            data["secret"], data["bucket"] = data.pop("azure_secret"), data.pop("container")
        else:
            data["secret"] = data.pop("secret_access_key")
        return data
