"""ApiKey moves here from the portal app, keeping its table (portal_apikey) and every key in it.

The model is created in the migration state only; portal's 0002 removes it from portal's state. The content type
(and so the admin permissions given on it) moves with the model (docs/ARCHITECTURE.md).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import IntegrityError, migrations, models, router, transaction


def relabel_content_type(apps, schema_editor, *, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not router.allow_migrate_model(db, ContentType):
        return
    content_type = ContentType.objects.db_manager(db).filter(app_label=old, model="apikey").first()
    if content_type is None:  # a fresh database: post_migrate creates it under the new label
        return
    content_type.app_label = new
    try:
        with transaction.atomic(using=db):
            content_type.save(using=db, update_fields=["app_label"])
    except IntegrityError:  # the new label exists already: the old one is stale (remove_stale_contenttypes)
        pass


def forwards(apps, schema_editor) -> None:
    relabel_content_type(apps, schema_editor, old="portal", new="accounts")


def backwards(apps, schema_editor) -> None:
    relabel_content_type(apps, schema_editor, old="accounts", new="portal")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("portal", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("prefix", models.CharField(max_length=16)),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("last_used_at", models.DateTimeField(blank=True, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_keys",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "API key",
                        "ordering": ["-created_at", "-id"],
                        "db_table": "portal_apikey",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(forwards, backwards),
    ]
