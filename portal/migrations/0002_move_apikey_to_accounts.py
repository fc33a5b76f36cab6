"""ApiKey now belongs to the accounts app (its 0001): removed from portal's migration state only, so the table
portal_apikey and its rows stay where they are (docs/ARCHITECTURE.md)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("portal", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiKey")],
            database_operations=[],
        ),
    ]
