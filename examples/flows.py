"""The example flow of ``make demo``: a root step, two parallel branches and a map.

    pick_destination ─┬─ check_weather ───────────────┐
                      └─ list_sights ── rate_sight[*] ─┴─ build_itinerary

Run it yourself with a worker in one terminal and a client in another::

    pgflow worker examples.flows
    pgflow start plan_trip --input '{"city": "Lisbon", "days": 3}' --wait
"""

from __future__ import annotations

import asyncio
import random
import time

import pgflow

SIGHTS = {
    "lisbon": ["Belém Tower", "Alfama", "LX Factory", "Time Out Market", "Sintra day trip", "Tram 28"],
    "kyoto": ["Fushimi Inari", "Arashiyama", "Kinkaku-ji", "Nishiki Market", "Gion"],
}

plan_trip = pgflow.Flow("plan_trip", max_attempts=3, base_delay=1, timeout=10)


@plan_trip.step
def pick_destination(input):
    """Root step: receives the flow input."""
    city = str(input.get("city", "Lisbon"))
    return {"city": city, "days": int(input.get("days", 3))}


@plan_trip.step(depends_on=[pick_destination])
async def check_weather(deps, ctx):
    """One branch: an async handler (awaited on the worker's event loop)."""
    await asyncio.sleep(0.4)
    rng = random.Random(deps["pick_destination"]["city"])
    return [{"day": d + 1, "sky": rng.choice(["sunny", "cloudy", "showers"]), "high_c": rng.randint(14, 29)}
            for d in range(deps["pick_destination"]["days"])]


@plan_trip.array(depends_on=[pick_destination])
def list_sights(deps):
    """The other branch: an array step, whose list the map step fans out over."""
    city = deps["pick_destination"]["city"]
    return SIGHTS.get(city.lower(), [f"{city} old town", f"{city} museum", f"{city} harbour"])


@plan_trip.map(array=list_sights)
def rate_sight(sight, ctx):
    """A map step: one task per sight, run in parallel (a sync handler, in a worker thread)."""
    time.sleep(random.uniform(0.1, 0.35))
    return {"sight": sight, "score": round(random.Random(sight).uniform(3.5, 5.0), 1)}


@plan_trip.step(depends_on=[check_weather, rate_sight])
def build_itinerary(deps, ctx):
    """Joins both branches; ctx.flow_input is the run's input (loaded once per run)."""
    sights = sorted(deps["rate_sight"], key=lambda s: -s["score"])
    days = deps["check_weather"]
    per_day = max(1, len(sights) // max(1, len(days)))
    plan = []
    for i, day in enumerate(days):
        todo = sights[i * per_day:(i + 1) * per_day] if i < len(days) - 1 else sights[i * per_day:]
        plan.append({"day": day["day"], "sky": day["sky"], "see": [s["sight"] for s in todo]})
    return {"city": ctx.flow_input.get("city", "Lisbon"), "itinerary": plan}
