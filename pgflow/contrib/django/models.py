"""pgflow's runs as a read-only Django model (for the admin): the table belongs to pgflow's
schema and its migrations, never to Django's (``managed = False``)."""

from __future__ import annotations

from django.db import models


class Run(models.Model):
    run_id = models.UUIDField(primary_key=True)
    flow_slug = models.TextField()
    status = models.TextField()
    input = models.JSONField()
    output = models.JSONField(null=True)
    remaining_steps = models.IntegerField()
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    failed_at = models.DateTimeField(null=True)

    class Meta:
        managed = False
        db_table = '"pgflow"."runs"'
        ordering = ("-started_at",)
        verbose_name = "run"

    def __str__(self) -> str:
        return f"{self.flow_slug} {self.run_id} ({self.status})"
