"""The database cache's table (rate limits, the public pages' marks) is created with the
schema, so that every way of migrating (suivi migrate, manage migrate, test databases,
benchmarks) has it."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("customerweb", "0001_public_pages")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
