-- Flow definitions: flows, their steps and the dependency edges between steps.

CREATE TABLE pgflow.flows (
    flow_slug text PRIMARY KEY,
    opt_max_attempts int NOT NULL DEFAULT 3,
    opt_base_delay int NOT NULL DEFAULT 1,
    opt_timeout int NOT NULL DEFAULT 60,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- pgflow-py addition (also in the Elixir port): 'flow' or 'job' (a one-step flow)
    flow_type text NOT NULL DEFAULT 'flow',
    -- 'flow': every step's tasks go to one queue named lower(flow_slug); 'step': each step has
    -- its own queue (steps.queue_name), provisioned only by complete compilation
    queue_mode text NOT NULL DEFAULT 'flow',
    CONSTRAINT slug_is_valid CHECK (pgflow.is_valid_slug(flow_slug)),
    CONSTRAINT opt_max_attempts_is_nonnegative CHECK (opt_max_attempts >= 0),
    CONSTRAINT opt_base_delay_is_nonnegative CHECK (opt_base_delay >= 0),
    CONSTRAINT opt_timeout_is_positive CHECK (opt_timeout > 0),
    CONSTRAINT flow_type_is_valid CHECK (flow_type IN ('flow', 'job')),
    CONSTRAINT queue_mode_is_valid CHECK (queue_mode IN ('flow', 'step'))
);

-- Slugs differing only in case would share a queue: pgmq lower-cases queue names.
CREATE UNIQUE INDEX idx_flows_normalized_slug ON pgflow.flows (lower(flow_slug));

CREATE TABLE pgflow.steps (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug),
    step_slug text NOT NULL,
    step_type text NOT NULL DEFAULT 'single',
    step_index int NOT NULL DEFAULT 0,
    deps_count int NOT NULL DEFAULT 0,
    opt_max_attempts int,
    opt_base_delay int,
    opt_timeout int,
    opt_start_delay int,
    required_input_pattern jsonb,
    forbidden_input_pattern jsonb,
    when_unmet text NOT NULL DEFAULT 'skip',
    when_exhausted text NOT NULL DEFAULT 'fail',
    created_at timestamptz NOT NULL DEFAULT now(),
    -- the pgmq queue the step's tasks are sent to: lower(flow_slug) in flow mode, the step's
    -- private queue in step mode; copied into each task (step_tasks.queue_name)
    queue_name text NOT NULL,
    PRIMARY KEY (flow_slug, step_slug),
    UNIQUE (flow_slug, step_index),
    -- upstream's (generated) name, so upstream's migrations find it
    CONSTRAINT steps_step_slug_check CHECK (pgflow.is_valid_slug(step_slug)),
    CONSTRAINT queue_name_is_valid CHECK (pgflow.is_valid_queue_name(queue_name)),
    CONSTRAINT step_type_is_valid CHECK (step_type IN ('single', 'map')),
    CONSTRAINT deps_count_is_nonnegative CHECK (deps_count >= 0),
    CONSTRAINT opt_max_attempts_is_nonnegative CHECK (opt_max_attempts IS NULL OR opt_max_attempts >= 0),
    CONSTRAINT opt_base_delay_is_nonnegative CHECK (opt_base_delay IS NULL OR opt_base_delay >= 0),
    CONSTRAINT opt_timeout_is_positive CHECK (opt_timeout IS NULL OR opt_timeout > 0),
    CONSTRAINT opt_start_delay_is_nonnegative CHECK (opt_start_delay IS NULL OR opt_start_delay >= 0),
    CONSTRAINT required_input_pattern_is_object
        CHECK (required_input_pattern IS NULL OR jsonb_typeof(required_input_pattern) = 'object'),
    CONSTRAINT forbidden_input_pattern_is_object
        CHECK (forbidden_input_pattern IS NULL OR jsonb_typeof(forbidden_input_pattern) = 'object'),
    CONSTRAINT when_unmet_is_valid CHECK (when_unmet IN ('fail', 'skip', 'skip-cascade')),
    CONSTRAINT when_exhausted_is_valid CHECK (when_exhausted IN ('fail', 'skip', 'skip-cascade'))
);

CREATE UNIQUE INDEX idx_steps_normalized_slug ON pgflow.steps (flow_slug, lower(step_slug));
-- pgflow-py: which flow owns a queue (claim_tasks' queue rules on every poll, step-queue checks)
CREATE INDEX idx_steps_queue_name ON pgflow.steps (queue_name);

CREATE TABLE pgflow.deps (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug),
    dep_slug text NOT NULL,
    step_slug text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (flow_slug, dep_slug, step_slug),
    FOREIGN KEY (flow_slug, dep_slug) REFERENCES pgflow.steps (flow_slug, step_slug),
    FOREIGN KEY (flow_slug, step_slug) REFERENCES pgflow.steps (flow_slug, step_slug),
    CONSTRAINT dep_is_not_self CHECK (dep_slug <> step_slug)
);

CREATE INDEX idx_deps_by_flow_step ON pgflow.deps (flow_slug, step_slug);
CREATE INDEX idx_deps_by_flow_dep ON pgflow.deps (flow_slug, dep_slug);
