"""The flows the dashboard tests run for real."""

from __future__ import annotations

from typing import Any

from pgflow import Flow, Job

orders = Flow("orders", max_attempts=1, base_delay=1, timeout=30)


@orders.array
def fetch(input: dict[str, Any]) -> list[int]:
    return list(range(input["n"]))


@orders.map(array=fetch)
def items(item: int) -> int:
    if item == 13:
        raise ValueError("item 13 is unlucky")
    return item * 2


@orders.step(if_={"notify": True})
def notify(input: dict[str, Any]) -> dict[str, Any]:
    return {"notified": True}


@orders.step(depends_on=[items, notify])
def save(deps: dict[str, Any]) -> dict[str, Any]:
    return {"saved": len(deps["items"])}


send_email = Job("send_email", max_attempts=1, timeout=30)


@send_email.perform
def deliver(input: dict[str, Any]) -> dict[str, Any]:
    if input.get("bounce"):
        raise RuntimeError("mailbox full")
    return {"sent_to": input.get("to")}


wide = Flow("wide", max_attempts=2, timeout=30)


@wide.array
def split(input: dict[str, Any]) -> list[int]:
    return list(range(input["n"]))


@wide.map(array=split)
def work(item: int) -> int:
    return item + 1


@wide.step(depends_on=[work])
def total(deps: dict[str, Any]) -> int:
    return sum(deps["work"])
