from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from projects.models import IMAGE_FORMATS, Invitation, Membership, Project, all_image_formats


def people_choices(organizations, *, empty_label: str) -> list[tuple]:
    """The people of `organizations` (a list or queryset of them) as (user id, name) choices after an empty one: the
    "uploaded by" filters."""
    people = get_user_model().objects.filter(memberships__organization__in=organizations).distinct().order_by("username")
    return [("", empty_label), *((person.pk, person.get_full_name() or person.username) for person in people)]


class ProjectForm(forms.ModelForm):
    image_formats = forms.MultipleChoiceField(
        choices=IMAGE_FORMATS,
        # A new project's form starts from the model's default (every format): ModelForm takes no initial values
        # from an unsaved instance, and a field declared here does not inherit the model field's default.
        initial=all_image_formats,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Image formats",
        help_text="Told apart by their content, not their names: a PNG named .jpg is still a PNG.",
    )

    class Meta:
        model = Project
        fields = ["name", "description", "allow_images", "allow_videos", "image_formats", "allow_animated_images", "require_camera_metadata"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"allow_images": "", "allow_videos": ""}

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Project.objects.filter(organization=self.organization, name__iexact=name)
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"{self.organization.name} already has a project named “{name}”.")
        return name

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("allow_images") and not cleaned.get("allow_videos"):
            raise forms.ValidationError("Choose at least one asset type the project takes: images, videos or both.")
        if cleaned.get("allow_images") and not cleaned.get("image_formats"):
            self.add_error("image_formats", "Choose at least one image format, or stop taking images.")
        return cleaned


class InvitationForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role"]

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if Membership.objects.filter(organization=self.organization, user__email__iexact=email).exists():
            raise forms.ValidationError(f"{email} is already a member of {self.organization.name}.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class SignUpForm(UserCreationForm):
    """Account creation for somebody who follows an invitation link."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username", "first_name", "last_name"]


class BatchForm(forms.Form):
    name = forms.CharField(max_length=120, label="Batch name")
    is_enabled = forms.BooleanField(required=False, initial=True, label="Enabled")


class AddToBatchForm(forms.Form):
    """The Assets tab's selection: checked assets go into an existing batch, or a new one named here."""

    NEW = "new"

    batch = forms.ChoiceField(label="Batch")
    new_batch_name = forms.CharField(required=False, max_length=120, label="New batch name")
    asset = forms.TypedMultipleChoiceField(coerce=str, required=False)

    def __init__(self, *args, batches, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["batch"].choices = [*((str(b.pk), b.name) for b in batches), (self.NEW, "A new batch named…")]
        self.fields["asset"].valid_value = lambda value: True  # ids are checked by the service, per asset

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("asset"):
            raise forms.ValidationError("Select at least one asset.")
        if cleaned.get("batch") == self.NEW and not (cleaned.get("new_batch_name") or "").strip():
            self.add_error("new_batch_name", "Name the new batch.")
        return cleaned
