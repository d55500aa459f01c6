"""Real-time run tracking: the event hub, live runs, and a client for server-driven UIs.

    hub = EventHub.shared(dsn)              # one LISTEN connection per process and database
    live = await LiveRun.open(client, run_id)
    await live.wait_for("completed")
    ui = LiveClient(client, on_change=lambda key, run: redraw())

See docs/guides/realtime.md.
"""

from __future__ import annotations

from pgflow.live.client import LiveClient
from pgflow.live.hub import EventHub
from pgflow.live.markers import Gap, Item, RunFinished
from pgflow.live.run import Change, LiveRun
from pgflow.live.state import apply_event, run_to_dict
from pgflow.live.subscription import Subscription

__all__ = [
    "Change",
    "EventHub",
    "Gap",
    "Item",
    "LiveClient",
    "LiveRun",
    "RunFinished",
    "Subscription",
    "apply_event",
    "run_to_dict",
]
