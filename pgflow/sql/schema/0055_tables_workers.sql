-- Workers register here before claiming tasks and heartbeat while they run.

CREATE TABLE pgflow.workers (
    worker_id uuid PRIMARY KEY,
    queue_name text NOT NULL,
    function_name text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    deprecated_at timestamptz,
    stopped_at timestamptz,
    last_heartbeat_at timestamptz NOT NULL DEFAULT now()
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
    CONSTRAINT debounce_at_least_one_second CHECK (debounce >= interval '1 second')
);
