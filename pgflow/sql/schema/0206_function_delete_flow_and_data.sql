-- Delete a flow with everything that belongs to it: its pgmq queue (with the archive), its
-- tasks, step states and runs, and its definition. Meant for development and recompilation.
CREATE OR REPLACE FUNCTION pgflow.delete_flow_and_data(p_flow_slug text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE q.queue_name = p_flow_slug) THEN
        PERFORM pgmq.drop_queue(p_flow_slug);
    END IF;
    DELETE FROM pgflow.step_tasks WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.step_states WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.runs WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.deps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.steps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.flows WHERE flow_slug = p_flow_slug;
END;
$$;
