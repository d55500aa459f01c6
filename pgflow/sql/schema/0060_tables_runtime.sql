-- Runtime state: one row per run, per step of a run, and per task of a step.

CREATE TABLE pgflow.runs (
    run_id uuid PRIMARY KEY DEFAULT pgflow._new_run_id(),
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug),
    status text NOT NULL DEFAULT 'started',
    input jsonb NOT NULL,
    output jsonb,
    remaining_steps int NOT NULL DEFAULT 0,
    started_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    failed_at timestamptz,
    -- pgflow-py additions (run control): a caller's idempotency key, kept while the run is
    -- active and for idempotency_ttl after it ends (NULL = forever; start_flow_idempotent), and
    -- the run this one retries (retry_run; no foreign key: the original may be pruned first)
    idempotency_key text,
    idempotency_ttl interval,
    retry_of uuid,
    -- pgflow-py addition (cancel_run): a cancelled run is a failed run that also records when
    -- and why it was cancelled (a TypeScript worker only sees status 'failed')
    cancelled_at timestamptz,
    cancel_reason text,
    -- pgflow-py addition (lineage): how this run started again the run retry_of names,
    -- 'retry' (retry_run: a clean run) or 'resume' (resume_run: reusing what the original
    -- completed); NULL for runs started again before the column existed
    retry_kind text,
    -- pgflow-py addition (flow control): higher is claimed first within the flow by the Python
    -- worker's claim_tasks (equal priorities keep queue order); 0 = the default lane, and so is
    -- NULL (runs from before the column: a NOT NULL column with a default cannot be added to a
    -- table whose row type a SQL-standard function takes, on PostgreSQL 15)
    priority int DEFAULT 0,
    -- pgflow-py addition (waits): the key a signal can name this run by instead of its id
    -- (signal_by_key; e.g. an order id a webhook knows), and for a child run of a subflow step
    -- the parent run, step and task that wait for it (no foreign key: pruning goes run by run)
    signal_key text,
    parent_run_id uuid,
    parent_step_slug text,
    parent_task_index int,
    -- pgflow-py addition (tracing): the W3C trace context current where the run was started
    -- ({"traceparent": ..., "tracestate": ...}; NULL without OpenTelemetry), so each task's span
    -- continues that trace in whichever worker runs it. Not in the message nor the input.
    trace_context jsonb,
    -- pgflow-py addition (flow control): the run's concurrency key, taken when the run starts from
    -- the flow's concurrency_key (a path into the input, or a Python callable's result); '' when
    -- the flow has a key and the input lacks it (the "no key" group), NULL when the flow had none.
    -- max_running_per_key counts the running tasks of each key.
    concurrency_key text,
    CONSTRAINT status_is_valid CHECK (status IN ('started', 'failed', 'completed')),
    CONSTRAINT runs_remaining_steps_check CHECK (remaining_steps >= 0),
    CONSTRAINT completed_at_or_failed_at CHECK (NOT (completed_at IS NOT NULL AND failed_at IS NOT NULL)),
    CONSTRAINT completed_at_is_after_started_at CHECK (completed_at IS NULL OR completed_at >= started_at),
    CONSTRAINT failed_at_is_after_started_at CHECK (failed_at IS NULL OR failed_at >= started_at),
    CONSTRAINT cancelled_run_is_failed
        CHECK (cancelled_at IS NULL OR (status = 'failed' AND failed_at IS NOT NULL)),
    CONSTRAINT cancel_reason_only_when_cancelled CHECK (cancel_reason IS NULL OR cancelled_at IS NOT NULL),
    CONSTRAINT retry_kind_is_valid
        CHECK (retry_kind IS NULL OR (retry_kind IN ('retry', 'resume') AND retry_of IS NOT NULL)),
    CONSTRAINT priority_is_in_range CHECK (priority BETWEEN 0 AND 1000)
);

-- One run per flow and idempotency key (start_flow_idempotent). Partial: starts without a key
-- (the hot path) write nothing to it.
CREATE UNIQUE INDEX idx_runs_flow_idempotency_key ON pgflow.runs (flow_slug, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Started runs with a priority above the default, by flow and priority (claim_tasks reads their
-- queued tasks first). Partial: runs of the default lane write nothing to it.
CREATE INDEX idx_runs_prioritized ON pgflow.runs (flow_slug, priority DESC, started_at)
    WHERE priority > 0 AND status = 'started';

-- Started runs with a concurrency key, by flow and key (the claim's fair read of a flow with
-- max_running_per_key takes each key's oldest runs in turn). Partial: runs without a key write
-- nothing to it.
CREATE INDEX idx_runs_concurrency_key ON pgflow.runs (flow_slug, concurrency_key, started_at)
    WHERE concurrency_key IS NOT NULL AND status = 'started';

-- The runs that retry or resume a run (bulk retry_runs / resume_runs skip runs already started
-- again; the run page lists them). Partial: runs that are not retries write nothing to it.
CREATE INDEX idx_runs_retry_of ON pgflow.runs (retry_of) WHERE retry_of IS NOT NULL;

-- A signal by key finds its run (signal_by_key); a parent finds its child runs (cancel, resume,
-- the run page). Partial: runs without either write nothing to them.
CREATE INDEX idx_runs_signal_key ON pgflow.runs (flow_slug, signal_key) WHERE signal_key IS NOT NULL;
CREATE INDEX idx_runs_parent_run_id ON pgflow.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

-- Lookups by flow or by status use idx_runs_flow_started_at / idx_runs_status_started_at
-- (0600_dashboard_indexes.sql), whose leading column they are. Every index costs an insert on
-- each of the engine's updates (they are not HOT: status is indexed), so pgflow-py leaves out
-- upstream's single-column indexes that another index already leads with.

CREATE TABLE pgflow.step_states (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug),
    run_id uuid NOT NULL REFERENCES pgflow.runs (run_id),
    step_slug text NOT NULL,
    status text NOT NULL DEFAULT 'created',
    remaining_tasks int,
    initial_tasks int,
    remaining_deps int NOT NULL DEFAULT 0,
    output jsonb,
    error_message text,
    skip_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    skipped_at timestamptz,
    PRIMARY KEY (run_id, step_slug),
    FOREIGN KEY (flow_slug, step_slug) REFERENCES pgflow.steps (flow_slug, step_slug),
    CONSTRAINT status_is_valid CHECK (status IN ('created', 'started', 'completed', 'failed', 'skipped')),
    CONSTRAINT status_and_remaining_tasks_match CHECK (status <> 'completed' OR remaining_tasks = 0),
    CONSTRAINT remaining_tasks_state_consistency
        CHECK (remaining_tasks IS NULL OR status NOT IN ('created', 'skipped')),
    CONSTRAINT initial_tasks_known_when_started CHECK (status <> 'started' OR initial_tasks IS NOT NULL),
    CONSTRAINT output_only_for_completed_or_null CHECK (output IS NULL OR status = 'completed'),
    CONSTRAINT skip_reason_matches_status
        CHECK ((status = 'skipped' AND skip_reason IS NOT NULL) OR (status <> 'skipped' AND skip_reason IS NULL)),
    CONSTRAINT step_states_remaining_deps_check CHECK (remaining_deps >= 0),
    CONSTRAINT step_states_initial_tasks_check CHECK (initial_tasks IS NULL OR initial_tasks >= 0),
    CONSTRAINT completed_at_or_failed_at_or_skipped_at CHECK (
        (completed_at IS NOT NULL)::int + (failed_at IS NOT NULL)::int + (skipped_at IS NOT NULL)::int <= 1),
    CONSTRAINT started_at_is_after_created_at CHECK (started_at IS NULL OR started_at >= created_at),
    CONSTRAINT completed_at_is_after_started_at CHECK (completed_at IS NULL OR completed_at >= started_at),
    CONSTRAINT failed_at_is_after_started_at CHECK (failed_at IS NULL OR failed_at >= started_at),
    CONSTRAINT skipped_at_is_after_created_at CHECK (skipped_at IS NULL OR skipped_at >= created_at)
);

CREATE INDEX idx_step_states_ready ON pgflow.step_states (run_id, status, remaining_deps)
    WHERE status = 'created' AND remaining_deps = 0;
CREATE INDEX idx_step_states_failed ON pgflow.step_states (run_id, step_slug) WHERE status = 'failed';
CREATE INDEX idx_step_states_skipped ON pgflow.step_states (run_id, step_slug) WHERE status = 'skipped';
CREATE INDEX idx_step_states_flow_slug ON pgflow.step_states (flow_slug);
-- (no index on run_id alone: the primary key leads with it)

CREATE TABLE pgflow.step_tasks (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug),
    run_id uuid NOT NULL REFERENCES pgflow.runs (run_id),
    step_slug text NOT NULL,
    message_id bigint,
    task_index int NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'queued',
    attempts_count int NOT NULL DEFAULT 0,
    error_message text,
    output jsonb,
    queued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    failed_at timestamptz,
    last_worker_id uuid REFERENCES pgflow.workers (worker_id) ON DELETE SET NULL,
    requeued_count int NOT NULL DEFAULT 0,
    last_requeued_at timestamptz,
    permanently_stalled_at timestamptz,
    -- the queue the task's message was sent to (the step's queue_name when the task was created);
    -- every pgmq call about the task addresses this queue
    queue_name text NOT NULL,
    PRIMARY KEY (run_id, step_slug, task_index),
    FOREIGN KEY (run_id, step_slug) REFERENCES pgflow.step_states (run_id, step_slug),
    -- 'skipped': its step was skipped; 'cancelled': its run failed (both before it finished)
    CONSTRAINT valid_status
        CHECK (status IN ('queued', 'started', 'completed', 'failed', 'skipped', 'cancelled')),
    CONSTRAINT output_valid_only_for_completed CHECK (output IS NULL OR status IN ('completed', 'failed')),
    CONSTRAINT attempts_count_nonnegative CHECK (attempts_count >= 0),
    CONSTRAINT task_index_nonnegative CHECK (task_index >= 0),
    CONSTRAINT completed_at_or_failed_at CHECK (NOT (completed_at IS NOT NULL AND failed_at IS NOT NULL)),
    CONSTRAINT started_at_is_after_queued_at CHECK (started_at IS NULL OR started_at >= queued_at),
    CONSTRAINT completed_at_is_after_started_at CHECK (completed_at IS NULL OR completed_at >= started_at),
    CONSTRAINT failed_at_is_after_started_at CHECK (failed_at IS NULL OR failed_at >= started_at),
    CONSTRAINT queue_name_is_valid CHECK (pgflow.is_valid_queue_name(queue_name))
);

-- A task's life is two non-HOT updates, each inserting into every index whose predicate holds,
-- so pgflow-py keeps only indexes some statement needs: by (run, step) the primary key serves
-- (upstream's partial index of completed tasks and its (flow, run, step) index are left out);
-- by message the claims and hand-backs look tasks up (a message id is unique within its queue),
-- started ones by worker (hand-back).
-- Deleting a flow's data (delete_flow_and_data, an admin operation) scans step_tasks.
-- Queued tasks by (run, step), in message order: the prioritized and per-key reads take a run's
-- oldest queued tasks of each step from it without visiting the others (a 30,000-item map read
-- through (run_id, step_slug) alone visited all its queued tasks at every claim).
CREATE INDEX idx_step_tasks_queued ON pgflow.step_tasks (run_id, step_slug, message_id) WHERE status = 'queued';
CREATE INDEX idx_step_tasks_failed ON pgflow.step_tasks (run_id, step_slug) WHERE status = 'failed';
CREATE INDEX idx_step_tasks_started_at ON pgflow.step_tasks (started_at) WHERE status = 'started';
CREATE UNIQUE INDEX idx_step_tasks_queue_message ON pgflow.step_tasks (queue_name, message_id)
    WHERE message_id IS NOT NULL;
CREATE INDEX idx_step_tasks_last_worker ON pgflow.step_tasks (last_worker_id) WHERE status = 'started';
