"""Flows with waiting steps, served by ``pgflow worker`` subprocesses in the end-to-end tests."""

from __future__ import annotations

import os
from datetime import timedelta

import pgflow

# an approval: the order is created, a person approves it (a signal, from anywhere), it ships
approval = pgflow.Flow("approval_flow")


@approval.step
def create_order(input):
    return {"order": input["order"]}


approve = approval.signal("approve", depends_on=[create_order], timeout=timedelta(hours=1))


@approval.step(depends_on=[create_order, approve])
def ship(deps):
    return {"shipped": deps["create_order"]["order"], "by": deps["approve"]["by"]}


# a payment webhook that knows the order id (the run's signal key), not the run id
payment = pgflow.Flow("payment_flow")


@payment.step
def charge(input):
    return {"order": input["order"]}


paid = payment.signal("paid", depends_on=[charge])


@payment.step(depends_on=[paid])
def receipt(deps):
    return {"amount": deps["paid"]["amount"]}


# a signal nobody sends: it times out after the number of seconds of the step's option
impatient = pgflow.Flow("impatient_flow")


@impatient.step
def ask(input):
    return {}


impatient.signal("answer", depends_on=[ask], timeout=1)


# the same with a default on timeout, then a step after it
lenient = pgflow.Flow("lenient_flow")
lenient.signal("answer", timeout=1, default={"answer": "no reply"})


@lenient.step(depends_on=["answer"])
def read_answer(deps):
    return deps["answer"]["answer"]


# a reminder: sleep until a time taken from the step before, then remind
reminder = pgflow.Flow("reminder_flow")


@reminder.step
def signup(input):
    return {"remind_at": input["remind_at"]}


reminder.sleep_until("wait_a_bit", depends_on=[signup], at="signup.remind_at")


@reminder.step(depends_on=["wait_a_bit"])
def remind(deps):
    return {"reminded": True, "slept_until": deps["wait_a_bit"]["slept_until"]}


# a map of subflows: one child run per item; the item named in "fail" fails while the file
# "while" names exists
item_flow = pgflow.Flow("item_flow", max_attempts=1)


@item_flow.step
def handle(input):
    if input["n"] == input.get("fail") and os.path.exists(input["while"]):
        raise RuntimeError(f"item {input['n']} failed")
    return input["n"] * 10


batch = pgflow.Flow("batch_flow")


@batch.array
def items(input):
    return [{"n": n, "fail": input["fail"], "while": input["while"]} for n in range(input["count"])]


batch.subflow(item_flow, slug="each", array=items)


# 1,000 runs wait on this at once in the hidden-failure check
gate = pgflow.Flow("gate_flow")
gate.signal("opened")


@gate.step(depends_on=["opened"])
def pass_through(deps):
    return deps["opened"]
