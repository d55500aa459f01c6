-- True only on a local Supabase stack (its well-known development JWT secret). On such a
-- stack ensure_flow_compiled may recompile a changed flow without being asked to.
CREATE OR REPLACE FUNCTION pgflow.is_local()
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(
        current_setting('app.settings.jwt_secret', true)
            = 'super-secret-jwt-token-with-at-least-32-characters-long',
        false)
$$;
