"""Arguments PostgreSQL cannot take end the call with a pgflow error (the CLI with one line),
never with a raw driver error or a traceback."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import pgflow
from tests.integration.worker.conftest import finished, running

ROOT = Path(__file__).resolve().parents[3]


def _job(slug: str) -> pgflow.Job:
    job = pgflow.Job(slug)
    job.perform(lambda input: None)
    return job


@pytest.mark.parametrize("slug", ["a\x00b", "\x00"])
async def test_a_nul_in_a_flow_slug_is_flow_not_found(db_url, client, slug):
    for call in (client.start_flow(slug, {}), client.enqueue(slug, {}), client.get_flow(slug)):
        with pytest.raises(pgflow.FlowNotFound, match="NUL character"):
            await call


@pytest.mark.parametrize("seconds", [1e308, math.nan, math.inf, -1e308, 10**400, timedelta.max])
async def test_an_out_of_range_delay_is_invalid_input_and_nothing_is_stored(db_url, client, seconds):
    job = pgflow.Job("later")

    @job.perform
    def handler(input):
        return input

    async with running(db_url, [job]):
        with pytest.raises(pgflow.InvalidInput, match="delay_seconds"):
            await client.enqueue_in(job, {}, seconds=seconds)
        assert await client.list_runs(job) == []
        run = await finished(client, await client.enqueue_in(job, {"ok": 1}, seconds=0), timeout=20)
    assert run.output == {"later": {"ok": 1}}


@pytest.mark.parametrize("slug", ["a'b", "a b", "a\x00b", "__x", "run"])
async def test_a_schedule_slug_that_is_not_a_slug_is_a_schedule_error(db_url, client, slug):
    job = pgflow.Job("ticking")

    @job.perform
    def handler(input):
        return None

    await client.compile(job)
    with pytest.raises(pgflow.ScheduleError, match="invalid schedule slug"):
        await client.schedule(job, "@hourly", slug=slug)
    assert await client.list_schedules() == []


async def test_list_limits_beyond_a_bigint_are_invalid_input(db_url, client):
    with pytest.raises(pgflow.InvalidInput, match="limit must be a whole number from 1 to"):
        await client.list_runs(limit=99999999999999999999)


def test_the_translation_of_a_schedules_check_violation_is_a_schedule_error(db_url):
    import psycopg

    from pgflow.db import translate_error

    with pgflow.Client(db_url) as client:
        client.compile(_job("ticking"))
    with psycopg.connect(db_url) as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="slug_is_valid") as raised:
            conn.execute("INSERT INTO pgflow.schedules (schedule_slug, flow_slug, expression, next_run_at) "
                         "VALUES ('a''b', 'ticking', '0 * * * *', now())")
    translated = translate_error(raised.value)
    assert isinstance(translated, pgflow.ScheduleError) and "slug_is_valid" in str(translated)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["enqueue", "later", "--in", "99999999999999999999d"], "--in '99999999999999999999d' is out of range"),
        (["enqueue", "later", "--in", "9999999d"], "delay_seconds of"),
        (["runs", "list", "--limit", "99999999999999999999"], "limit must be a whole number from 1 to"),
        (["start", "a\x01b\x1b[2J"], "flow 'a\\x01b\\x1b[2J' not found"),
        (["start", "later", "--input", "[" * 5000 + "]" * 5000], "--input is nested too deeply"),
        (["start", "later", "--input", '{"a": "\\u0000"}'], "the input contains a NUL character"),
    ],
    ids=["enqueue-overflow", "enqueue-too-far", "runs-list-limit", "start-odd-slug", "start-deep-input",
         "start-nul-input"],
)
def test_the_cli_says_one_line_for_arguments_postgresql_cannot_take(db_url, args, says):
    with pgflow.Client(db_url) as client:
        client.compile(_job("later"))
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "pgflow", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], done.stderr
    assert "Traceback" not in done.stderr and not done.stdout
