from django import forms
from django.db.models import Q

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

    def __init__(self, *args, organizations: list, people: list | None = None, **kwargs):
        """`organizations`: those whose people the uploader filter offers; `people`: those choices, when known already."""
        super().__init__(*args, **kwargs)
        self.fields["uploader"].choices = people if people is not None else people_choices(organizations, empty_label="Anyone")


# The project filter's value for assets with no project: the organization's library.
LIBRARY = "library"


def _in_project(value: str) -> Q:
    return Q(project__isnull=True) if value == LIBRARY else Q(project_id=value)


class LibraryFilterForm(AssetFilterForm):
    """The top-level Assets page's filters: the Assets tab's, across every project of the person's organizations and
    their libraries, plus the project, the upload session's view name and capture date, and the sort order."""

    lookups = AssetFilterForm.lookups | {
        "project": _in_project,
        "view": "upload_session__view_name__icontains",
        "captured_from": "upload_session__capture_date__gte",
        "captured_to": "upload_session__capture_date__lte",
    }
    orderings = {
        "newest": ("-created_at", "-id"),
        "oldest": ("created_at", "id"),
        "name": ("name", "id"),
        "-name": ("-name", "-id"),
        "largest": ("-size", "-id"),
        "smallest": ("size", "id"),
    }

    project = forms.ChoiceField(required=False, label="Project")
    view = forms.CharField(required=False, max_length=120, label="View name")
    captured_from = forms.DateField(required=False, label="Captured from", widget=forms.DateInput(attrs={"type": "date"}))
    captured_to = forms.DateField(required=False, label="Captured until", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        required=False,
        label="Sort by",
        choices=[
            ("newest", "Newest first"), ("oldest", "Oldest first"), ("name", "Name A–Z"), ("-name", "Name Z–A"),
            ("largest", "Largest first"), ("smallest", "Smallest first"),
        ],
    )

    field_order = ["q", "project", "status", "type", "uploader", "view", "captured_from", "captured_to", "sort"]

    def __init__(self, *args, organizations: list, projects: list, **kwargs):
        """`organizations`: the person's organizations; `projects`: their projects."""
        super().__init__(*args, organizations=organizations, **kwargs)
        choices: list = [("", "All projects"), (LIBRARY, "No project (library)")]
        if len(organizations) > 1:
            # Several organizations: their projects grouped under their names.
            for organization in organizations:
                own = [(str(p.pk), p.name) for p in projects if p.organization_id == organization.pk]
                if own:
                    choices.append((organization.name, own))
        else:
            choices += [(str(p.pk), p.name) for p in projects]
        self.fields["project"].choices = choices
