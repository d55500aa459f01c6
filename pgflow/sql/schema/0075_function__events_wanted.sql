-- Whether any event of this transaction can go anywhere: events are on, and someone subscribed
-- (pgflow.subscribe), or pgflow.events = 'always', or a realtime.send() exists. The batch
-- functions ask once per call and skip building the payloads of events that would go nowhere.
-- Reading pgflow.subscribers here also makes pgflow.await_event_writers() wait for this
-- transaction, as it waits for those that called _emit.
CREATE OR REPLACE FUNCTION pgflow._events_wanted()
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_mode text := coalesce(current_setting('pgflow.events', true), '');
BEGIN
    IF v_mode = 'off' THEN
        RETURN false;
    END IF;
    RETURN v_mode = 'always'
        OR EXISTS (SELECT 1 FROM pgflow.subscribers)
        OR to_regprocedure('realtime.send(jsonb,text,text,boolean)') IS NOT NULL;
END;
$$;
