"""Real-time run tracking: the event hub, live runs, and a client for server-driven UIs.

See docs/guides/realtime.md.
"""

from __future__ import annotations

from pgflow.live.hub import EventHub
from pgflow.live.markers import Gap, Item, RunFinished
from pgflow.live.subscription import Subscription

__all__ = ["EventHub", "Gap", "Item", "RunFinished", "Subscription"]
