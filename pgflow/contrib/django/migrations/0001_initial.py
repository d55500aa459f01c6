# The read-only model of pgflow's runs: no table is created (managed = False); pgflow's own
# migrations (manage.py pgflow_install) own the schema.
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="Run",
            fields=[
                ("run_id", models.UUIDField(primary_key=True, serialize=False)),
                ("flow_slug", models.TextField()),
                ("status", models.TextField()),
                ("input", models.JSONField()),
                ("output", models.JSONField(null=True)),
                ("remaining_steps", models.IntegerField()),
                ("started_at", models.DateTimeField()),
                ("completed_at", models.DateTimeField(null=True)),
                ("failed_at", models.DateTimeField(null=True)),
            ],
            options={"verbose_name": "run", "db_table": '"pgflow"."runs"', "ordering": ("-started_at",),
                     "managed": False},
        ),
    ]
