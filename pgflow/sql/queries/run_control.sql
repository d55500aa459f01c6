-- Run control's bulk operations (pgflow.ops.bulk) and the dashboard's audit of actions
-- (pgflow.web.actions).

-- name: bulk_select_runs
-- One batch of the runs a bulk operation's filter matches, newest first, after the cursor;
-- started_again: a run that retries or resumes it exists (bulk retry and resume skip those).
SELECT r.run_id, r.started_at,
       EXISTS (SELECT 1 FROM pgflow.runs AS n WHERE n.retry_of = r.run_id) AS started_again
  FROM pgflow._select_runs(%(flow_slug)s::text, %(status)s::text, %(since)s::timestamptz, %(until)s::timestamptz,
                           %(input)s::jsonb, %(before_started_at)s::timestamptz, %(before_run_id)s::uuid,
                           %(limit)s::int) AS r;

-- name: bulk_act_on_runs
SELECT run_id, done, new_run_id, message
  FROM pgflow._act_on_runs(%(action)s::text, %(run_ids)s::uuid[], %(reason)s::text, %(force)s::boolean);

-- name: actions_record
-- The audit rows of one dashboard action: one per run or flow it touched (arrays of one length).
INSERT INTO pgflow.run_actions (actor, action, run_id, flow_slug, outcome, detail, new_run_id)
SELECT %(actor)s::text, %(action)s::text, u.run_id, u.flow_slug, u.outcome, u.detail, u.new_run_id
  FROM unnest(%(run_ids)s::uuid[], %(flow_slugs)s::text[], %(outcomes)s::text[], %(details)s::text[],
              %(new_run_ids)s::uuid[]) AS u(run_id, flow_slug, outcome, detail, new_run_id);

-- name: actions_retries_of_run
-- The runs that retry or resume a run, oldest first (the run page's lineage).
SELECT run_id, retry_kind, status, started_at, cancelled_at
  FROM pgflow.runs
 WHERE retry_of = %(run_id)s::uuid
 ORDER BY started_at, run_id
 LIMIT 50;

-- name: actions_of_run
-- The audit rows of a run, newest first (the run page).
SELECT action_id, at, actor, action, outcome, detail, new_run_id
  FROM pgflow.run_actions
 WHERE run_id = %(run_id)s::uuid
 ORDER BY at DESC, action_id DESC
 LIMIT %(limit)s;
