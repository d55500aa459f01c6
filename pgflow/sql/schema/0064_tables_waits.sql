-- Durable waits (pgflow-py addition): steps that wait for a signal, for a time or for a child
-- run instead of running a handler. None of these tables is read by a TypeScript worker; a
-- waiting step's task has no queue message, so no worker ever claims it
-- (docs/reference/compatibility.md).

-- Which steps of a flow wait, and how. The flow's shape (what upstream compiles and compares)
-- stores these steps as plain 'single' steps; Client.compile writes these rows after the shape
-- (pgflow._set_wait_steps). One row per waiting step.
CREATE TABLE pgflow.wait_steps (
    flow_slug text NOT NULL,
    step_slug text NOT NULL,
    -- 'signal' (pgflow.signal completes it), 'sleep' (pgflow.wake_due_steps completes it at its
    -- wake time), 'subflow' (the child run's end completes or fails it)
    wait_kind text NOT NULL,
    -- signal: seconds to wait before the timeout applies (NULL: no timeout)
    timeout_seconds int,
    -- signal: on timeout 'fail' the step (no retry; when_exhausted applies) or complete it with
    -- timeout_output ('default')
    on_timeout text NOT NULL DEFAULT 'fail',
    timeout_output jsonb,
    -- signal: a signal sent before the step waits is kept and delivered when it does ('keep'),
    -- or refused ('reject')
    early_signals text NOT NULL DEFAULT 'keep',
    -- sleep: the wake time is the timestamp at at_path in the step's input (else its start)
    -- plus sleep_seconds
    at_path text[],
    sleep_seconds int NOT NULL DEFAULT 0,
    -- subflow: the flow each task starts, and the path of the child's input in the step's input
    -- (NULL: the whole input)
    child_flow_slug text,
    input_path text[],
    PRIMARY KEY (flow_slug, step_slug),
    FOREIGN KEY (flow_slug, step_slug) REFERENCES pgflow.steps (flow_slug, step_slug) ON DELETE CASCADE,
    CONSTRAINT wait_kind_is_valid CHECK (wait_kind IN ('signal', 'sleep', 'subflow')),
    CONSTRAINT on_timeout_is_valid CHECK (on_timeout IN ('fail', 'default')),
    CONSTRAINT early_signals_is_valid CHECK (early_signals IN ('keep', 'reject')),
    CONSTRAINT timeout_seconds_is_positive CHECK (timeout_seconds IS NULL OR timeout_seconds > 0),
    -- a fixed sleep lasts 0 s or more; an offset after at_path may be negative (3 days before)
    CONSTRAINT sleep_seconds_is_nonnegative CHECK (sleep_seconds >= 0 OR at_path IS NOT NULL),
    CONSTRAINT subflow_names_its_flow CHECK ((wait_kind = 'subflow') = (child_flow_slug IS NOT NULL))
);

-- One row per task that waits now: since when, until when (a sleep's wake time, a signal's
-- timeout; NULL: no deadline) and, for a subflow, the child run. Deleted when the wait ends.
CREATE TABLE pgflow.waits (
    run_id uuid NOT NULL,
    step_slug text NOT NULL,
    task_index int NOT NULL DEFAULT 0,
    wait_kind text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    due_at timestamptz,
    child_run_id uuid,
    PRIMARY KEY (run_id, step_slug, task_index),
    FOREIGN KEY (run_id, step_slug, task_index)
        REFERENCES pgflow.step_tasks (run_id, step_slug, task_index) ON DELETE CASCADE,
    CONSTRAINT wait_kind_is_valid CHECK (wait_kind IN ('signal', 'sleep', 'subflow'))
);

-- wake_due_steps reads the waits that are due, oldest first
CREATE INDEX idx_waits_due_at ON pgflow.waits (due_at) WHERE due_at IS NOT NULL;

-- Signals received (pgflow.signal): the first one per run and step wins; it is kept until the
-- step waits when it arrived early (delivered_at NULL).
CREATE TABLE pgflow.signals (
    run_id uuid NOT NULL REFERENCES pgflow.runs (run_id) ON DELETE CASCADE,
    step_slug text NOT NULL,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    PRIMARY KEY (run_id, step_slug)
);
