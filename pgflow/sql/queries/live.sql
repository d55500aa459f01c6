-- Statements of the realtime event hub (pgflow.live.hub). The channel names are passed as
-- psycopg.sql.Identifier, never interpolated as text.

-- name: live_listen
LISTEN {channel}

-- name: live_unlisten
UNLISTEN {channel}

-- name: live_ping
SELECT 1
