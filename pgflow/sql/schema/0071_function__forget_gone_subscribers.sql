-- Remove the subscriptions of sessions that are gone (ended without unsubscribing: a killed
-- process, a lost connection). A pid can be reused, so a row only counts while its backend's
-- start time still matches (when this role may see it: pg_stat_activity hides it for other
-- roles' sessions unless the role has pg_read_all_stats).
CREATE OR REPLACE FUNCTION pgflow._forget_gone_subscribers()
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    DELETE FROM pgflow.subscribers AS s
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity AS a
                        WHERE a.pid = s.pid
                          AND (a.backend_start IS NULL OR a.backend_start = s.backend_start));
$$;
