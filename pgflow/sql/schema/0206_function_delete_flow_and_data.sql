-- Delete a flow with everything that belongs to it: its pgmq queues (with their archives), its
-- tasks, step states and runs, and its definition. Meant for development and recompilation.
-- Only a flow stored under exactly this slug has its queues dropped: those its steps route to,
-- and in flow mode its default queue lower(flow_slug), each under the spelling pgmq lists
-- (pgflow._listed_queue_name). Serialized with compilers by the flow's advisory lock.
CREATE OR REPLACE FUNCTION pgflow.delete_flow_and_data(p_flow_slug text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_queue_mode text;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(p_flow_slug)));
    SELECT f.queue_mode INTO v_queue_mode FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug;
    IF v_queue_mode IS NOT NULL THEN
        PERFORM pgmq.drop_queue(pgflow._listed_queue_name(route.queue_name))
           FROM (SELECT s.queue_name FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug
                 UNION
                 SELECT lower(p_flow_slug) WHERE v_queue_mode = 'flow') AS route
          WHERE EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = route.queue_name);
    END IF;
    DELETE FROM pgflow.step_tasks WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.step_states WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.runs WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.deps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.steps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.flows WHERE flow_slug = p_flow_slug;
END;
$$;
