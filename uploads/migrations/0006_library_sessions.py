"""Upload sessions belong to an organization, and their project is optional: a session opened without one puts its
files in the organization's library."""

import django.db.models.deletion
from django.db import migrations, models


def organizations_from_projects(apps, schema_editor):
    UploadSession = apps.get_model("uploads", "UploadSession")
    Project = apps.get_model("projects", "Project")
    UploadSession.objects.update(
        organization_id=models.Subquery(Project.objects.filter(pk=models.OuterRef("project_id")).values("organization_id")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0001_initial"),
        ("uploads", "0005_cloud_storage_integrations"),
    ]

    operations = [
        migrations.AddField(
            model_name="uploadsession",
            name="organization",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="upload_sessions", to="projects.organization"
            ),
        ),
        migrations.RunPython(organizations_from_projects, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="uploadsession",
            name="organization",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="upload_sessions", to="projects.organization"
            ),
        ),
        migrations.AlterField(
            model_name="uploadsession",
            name="project",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="upload_sessions",
                to="projects.project",
            ),
        ),
        migrations.AddIndex(
            model_name="uploadsession",
            index=models.Index(fields=["organization", "created_by", "-created_at"], name="session_org_owner"),
        ),
    ]
