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
-- One audit row of a dashboard action.
INSERT INTO pgflow.run_actions (actor, action, run_id, flow_slug, outcome, detail, new_run_id)
VALUES (%(actor)s, %(action)s, %(run_id)s::uuid, %(flow_slug)s, %(outcome)s, %(detail)s, %(new_run_id)s::uuid);

-- name: actions_of_run
-- The audit rows of a run, newest first (the run page).
SELECT action_id, at, actor, action, outcome, detail, new_run_id
  FROM pgflow.run_actions
 WHERE run_id = %(run_id)s::uuid
 ORDER BY at DESC, action_id DESC
 LIMIT %(limit)s;
