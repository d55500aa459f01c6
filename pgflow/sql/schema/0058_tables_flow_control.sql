-- Flow control (pgflow-py addition): per flow, whether its tasks may be claimed now (pause) and
-- the limits every claim respects (start_tasks and claim_tasks, through pgflow._start_tasks).
-- No row = no flow control: the claim's fast path reads nothing else. A row whose flow is
-- deleted goes with it.
CREATE TABLE pgflow.flow_controls (
    flow_slug text PRIMARY KEY REFERENCES pgflow.flows (flow_slug) ON DELETE CASCADE,
    -- the limits in force, checked by pgflow._check_flow_limits:
    -- {"max_running": n, "rate_limit": {"count": n, "per": seconds},
    --  "steps": {"<step_slug>": {"max_running": n, "rate_limit": {...}}}}; {} = none
    limits jsonb NOT NULL DEFAULT '{}',
    -- the limits the flow's code declared when it was last compiled: a compile replaces `limits`
    -- only when the code's limits differ from these, so a runtime change (set_flow_limits)
    -- lasts until the code's limits change
    declared jsonb,
    -- set while the flow is paused: no task of it is claimed (running tasks finish)
    paused_at timestamptz,
    pause_reason text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT limits_is_object CHECK (jsonb_typeof(limits) = 'object'),
    CONSTRAINT declared_is_object CHECK (declared IS NULL OR jsonb_typeof(declared) = 'object'),
    CONSTRAINT pause_reason_only_when_paused CHECK (pause_reason IS NULL OR paused_at IS NOT NULL)
);

-- GCRA state of the flow's rate limits (pgflow._admit_claims): per scope ('' = the flow,
-- 'key:' || a concurrency key for rate_limit_per_key - no step slug has a colon - else a step),
-- the theoretical arrival time of its next start; moved only by admitted starts. A key row whose
-- tat has passed means what no row means; _admit_claims deletes such rows as it adds new ones.
CREATE TABLE pgflow.flow_rate_state (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug) ON DELETE CASCADE,
    step_slug text NOT NULL,
    tat timestamptz NOT NULL,
    PRIMARY KEY (flow_slug, step_slug)
);
