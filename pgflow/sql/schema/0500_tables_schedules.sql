-- pgflow-py addition: schedules (cron entries) and the marker of runs they started.
--
-- A schedule starts its flow at every tick of a five-field cron expression in a time zone.
-- backend 'builtin': the Python scheduler (pgflow.scheduler) claims due rows by next_run_at;
-- backend 'pg_cron': a pg_cron job named 'pgflow_<schedule_slug>' calls
-- pgflow.run_cron_schedule(schedule_slug) and the built-in scheduler leaves the row alone.
-- Ticks are computed in Python (cronsim) and passed in; SQL never parses cron expressions.

CREATE TABLE pgflow.schedules (
    schedule_slug text PRIMARY KEY,
    flow_slug text NOT NULL,
    expression text NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',
    input jsonb NOT NULL DEFAULT '{}',
    -- missed ticks (no scheduler was running): 'one' catch-up run for the whole missed window,
    -- 'all' one run per missed tick, 'none' skip them and wait for the next tick
    catch_up text NOT NULL DEFAULT 'one',
    backend text NOT NULL DEFAULT 'builtin',
    -- 'code': declared with Flow(..., cron=...) and synced by workers; 'api': client.schedule()
    source text NOT NULL DEFAULT 'api',
    enabled boolean NOT NULL DEFAULT true,
    next_run_at timestamptz,
    last_tick_at timestamptz,
    last_run_at timestamptz,
    last_run_id uuid,
    last_error text,
    -- set when a worker that handles the flow no longer declares the schedule in code
    orphaned_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT slug_is_valid CHECK (pgflow.is_valid_slug(schedule_slug)),
    CONSTRAINT expression_not_blank CHECK (btrim(expression) <> ''),
    CONSTRAINT catch_up_is_valid CHECK (catch_up IN ('one', 'all', 'none')),
    CONSTRAINT backend_is_valid CHECK (backend IN ('builtin', 'pg_cron')),
    CONSTRAINT source_is_valid CHECK (source IN ('code', 'api')),
    CONSTRAINT builtin_has_next_run_at CHECK (backend <> 'builtin' OR next_run_at IS NOT NULL)
);

CREATE INDEX idx_schedules_due ON pgflow.schedules (next_run_at) WHERE enabled AND backend = 'builtin';
CREATE INDEX idx_schedules_flow_slug ON pgflow.schedules (flow_slug);

-- One row per run a schedule started: which schedule, which tick. A side table keeps
-- pgflow.runs identical to pgflow's. The partial unique index is the last guard against a
-- tick starting two runs, whatever the clocks or the number of schedulers do.
CREATE TABLE pgflow.scheduled_runs (
    run_id uuid PRIMARY KEY REFERENCES pgflow.runs (run_id) ON DELETE CASCADE,
    schedule_slug text NOT NULL,
    tick_at timestamptz NOT NULL,
    -- a catch-up run covers the missed ticks from catch_up_from up to tick_at
    catch_up_from timestamptz,
    -- 'tick' (started by the scheduler or pg_cron) or 'manual' (`pgflow schedules run-now`)
    trigger text NOT NULL DEFAULT 'tick',
    backend text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trigger_is_valid CHECK (trigger IN ('tick', 'manual')),
    CONSTRAINT catch_up_from_before_tick CHECK (catch_up_from IS NULL OR catch_up_from < tick_at)
);

CREATE UNIQUE INDEX idx_scheduled_runs_one_per_tick ON pgflow.scheduled_runs (schedule_slug, tick_at)
    WHERE trigger = 'tick';
CREATE INDEX idx_scheduled_runs_schedule ON pgflow.scheduled_runs (schedule_slug, tick_at DESC);
