-- Stop following a channel from this session (UNLISTEN and unregister); NULL: every channel.
CREATE OR REPLACE FUNCTION pgflow.unsubscribe(channel text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_channel text;
BEGIN
    FOR v_channel IN
        DELETE FROM pgflow.subscribers AS s
         WHERE s.pid = pg_catalog.pg_backend_pid()
           AND (unsubscribe.channel IS NULL OR s.channel = unsubscribe.channel)
        RETURNING s.channel
    LOOP
        EXECUTE format('UNLISTEN %I', v_channel);
    END LOOP;
    IF unsubscribe.channel IS NOT NULL THEN
        EXECUTE format('UNLISTEN %I', unsubscribe.channel);  -- a bare LISTEN of the channel too
    END IF;
    PERFORM pgflow._forget_gone_subscribers();
END;
$$;
