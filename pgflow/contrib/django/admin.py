"""Read-only admin pages for pgflow's runs: a list (by flow and status) and each run with its
steps. Runs are changed by pgflow itself (workers, ``pgflow runs cancel|retry``), never here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from pgflow.contrib.django.models import Run


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("run_id", "flow_slug", "status", "started_at", "completed_at", "failed_at")
    list_filter = ("status", "flow_slug")
    search_fields = ("=run_id", "flow_slug")
    date_hierarchy = "started_at"
    readonly_fields = ("run_id", "flow_slug", "status", "input", "output", "started_at", "completed_at",
                       "failed_at", "steps")
    fields = readonly_fields
    show_full_result_count = False  # no count(*) of a long history on each page

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    @admin.display(description="steps")
    def steps(self, obj: Run) -> str:
        from pgflow.contrib.django import get_client

        run = get_client().get_run_with_states(obj.run_id)
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((s.step_slug, str(s.status), len(s.tasks), (s.error_message or "").split("\n", 1)[0])
             for s in run.step_states))
        return format_html("<table><tr><th>step</th><th>status</th><th>tasks</th><th>error</th></tr>{}</table>",
                           rows)
