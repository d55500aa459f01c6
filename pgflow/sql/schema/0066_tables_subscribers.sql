-- Who follows events: one row per database session and channel it listens on through
-- pgflow.subscribe(). pgflow._emit sends a NOTIFY on a channel only while a row names it (or
-- pgflow.events = 'always'): a notifying transaction takes a database-wide lock while it commits,
-- which would serialise every worker's commits for events nobody reads.
-- Rows of sessions that ended without unsubscribing are removed by the next subscribe() or
-- unsubscribe() of any session.

CREATE TABLE pgflow.subscribers (
    channel text NOT NULL,
    pid int NOT NULL,
    backend_start timestamptz NOT NULL,
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, pid)
);
