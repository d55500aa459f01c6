"""Jobs served by ``pgflow worker`` subprocesses in the poison tests."""

from __future__ import annotations

import asyncio

import pgflow

# an exception message that would set the terminal's title and forge a log line if printed raw
HOSTILE = "boom\x1b]0;pwned\x07\x1b[2J\r\n12:00:00 INFO run ok completed\u202e\x9b"

hostile = pgflow.Job("hostile", max_attempts=1)


@hostile.perform
def fail_hostile(input):
    raise ValueError(HOSTILE)


quitter = pgflow.Job("quitter", max_attempts=1)


@quitter.perform
async def maybe_quit(input):
    await asyncio.sleep(0)
    if input.get("quit"):
        raise SystemExit(3)
    return {"served": input["n"]}
