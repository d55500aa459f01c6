-- The given steps of a run ended without producing items (skipped, or a map over an empty
-- array): each dependent still waiting loses one dependency per such parent, and a dependent map
-- step (it maps its only dependency's output) gets zero tasks. Dependents listed among the given
-- steps themselves are left alone.
CREATE OR REPLACE FUNCTION pgflow._release_dependents(p_run_id uuid, p_step_slugs text[])
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    UPDATE pgflow.step_states AS c
       SET remaining_deps = c.remaining_deps - released.parents,
           initial_tasks = CASE WHEN released.step_type = 'map' THEN 0 ELSE c.initial_tasks END
      FROM (SELECT d.step_slug, child.step_type, count(*)::int AS parents
              FROM pgflow.runs AS r
              JOIN pgflow.deps AS d ON d.flow_slug = r.flow_slug
              JOIN pgflow.steps AS child ON child.flow_slug = d.flow_slug AND child.step_slug = d.step_slug
             WHERE r.run_id = p_run_id
               AND d.dep_slug = ANY (p_step_slugs)
               AND d.step_slug <> ALL (p_step_slugs)
             GROUP BY d.step_slug, child.step_type) AS released
     WHERE c.run_id = p_run_id AND c.step_slug = released.step_slug AND c.status = 'created';
$$;
