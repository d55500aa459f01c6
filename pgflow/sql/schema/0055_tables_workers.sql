-- Workers register here before claiming tasks and heartbeat while they run.

CREATE TABLE pgflow.workers (
    worker_id uuid PRIMARY KEY,
    queue_name text NOT NULL,
    function_name text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    deprecated_at timestamptz,
    stopped_at timestamptz,
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    -- which worker registered the row: a TypeScript worker writes its package version, the
    -- Python worker 'pgflow-py/<version>' (NULL for workers older than core 0.17.1)
    pgflow_version text
);

CREATE INDEX idx_workers_queue_name ON pgflow.workers (queue_name);
CREATE INDEX idx_workers_heartbeat ON pgflow.workers (last_heartbeat_at);

CREATE TABLE pgflow.worker_functions (
    function_name text PRIMARY KEY,
    enabled boolean NOT NULL DEFAULT true,
    debounce interval NOT NULL DEFAULT '6 seconds',
    last_invoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- 'http': a supervisor starts the function by calling it (Supabase Edge Functions);
    -- 'process': a long-running process the operator starts (Node, Bun, the Python worker)
    start_mode text NOT NULL DEFAULT 'http',
    CONSTRAINT debounce_at_least_one_second CHECK (debounce >= interval '1 second'),
    CONSTRAINT worker_functions_start_mode_check CHECK (start_mode IN ('http', 'process'))
);
