"""The pgflow Django app in a real project, under pytest-django, on a real PostgreSQL."""

from uuid import UUID

import pytest
from django.db import transaction

import pgflow.contrib.django as pgflow_django
from pgflow.contrib.django.jobs import django_tasks
from pgflow.testing import drain
from shop.flows import checkout
from shop.models import Order
from shop.tasks import send_receipt, which_attempt

try:
    from django.tasks import TaskResultStatus
except ImportError:
    from django_tasks import TaskResultStatus

pytestmark = pytest.mark.django_db(transaction=True)


def runs(flow):
    return {run.run_id: run for run in pgflow_django.get_client().list_runs(flow)}


def test_the_flows_of_the_apps_are_discovered():
    modules, flows = pgflow_django.discover()
    assert modules == ["shop.flows"] and flows == [checkout]


def test_a_run_started_in_a_transaction_that_rolls_back_never_exists():
    before = runs(checkout)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Order.objects.create(total=1)
            pgflow_django.start_flow(checkout, {"lines": [1]})
            raise RuntimeError("the view failed")
    assert runs(checkout) == before and not Order.objects.exists()


def test_a_run_started_in_a_transaction_exists_once_it_commits():
    with transaction.atomic():
        run_id = pgflow_django.start_flow(checkout, {"lines": [1, 2]})
        assert run_id is not None
    drain(pgflow_django.get_client(), [checkout])
    run = pgflow_django.get_client().get_run(run_id)
    assert run.status == "completed" and run.output["total"] == {"order_id": run.output["total"]["order_id"],
                                                                  "total": 300}
    assert Order.objects.get(pk=run.output["total"]["order_id"]).total == 300


def test_tasks_are_enqueued_as_pgflow_jobs_and_run_by_a_worker():
    order = Order.objects.create(total=5)
    bad = Order.objects.create(total=-1)
    with transaction.atomic():
        ok = send_receipt.enqueue(order.pk)
    failing = send_receipt.enqueue(bad.pk)
    with_context = which_attempt.enqueue("ctx")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            send_receipt.enqueue(order.pk)
            raise RuntimeError("rolled back: this task is never enqueued")
    assert send_receipt.get_result(ok.id).status == TaskResultStatus.READY
    assert set(runs(django_tasks)) == {UUID(ok.id), UUID(failing.id), UUID(with_context.id)}

    drain(pgflow_django.get_client(), [django_tasks])

    done = send_receipt.get_result(ok.id)
    assert done.status == TaskResultStatus.SUCCESSFUL and done.return_value == {"sent": order.pk}
    assert Order.objects.get(pk=order.pk).receipt_sent
    failed = send_receipt.get_result(failing.id)
    assert failed.status == TaskResultStatus.FAILED
    assert failed.errors[0].exception_class_path == "shop.tasks.ReceiptError"
    assert "negative total" in failed.errors[0].traceback
    assert which_attempt.get_result(with_context.id).return_value == f"ctx: run {with_context.id}"


def test_a_task_priority_becomes_the_run_priority():
    order = Order.objects.create(total=5)
    urgent = send_receipt.using(priority=100).enqueue(order.pk)
    usual = send_receipt.enqueue(order.pk)
    low = send_receipt.using(priority=-50).enqueue(order.pk)
    client = pgflow_django.get_client()
    assert [client.get_run(r.id).priority for r in (urgent, usual, low)] == [1000, 0, 0]


def test_the_admin_lists_runs_read_only(admin_client):
    run_id = pgflow_django.start_flow(checkout, {"lines": [4]})
    listing = admin_client.get("/admin/pgflow/run/")
    assert listing.status_code == 200 and str(run_id) in listing.content.decode()
    page = admin_client.get(f"/admin/pgflow/run/{run_id}/change/")
    text = page.content.decode()
    assert page.status_code == 200 and "lines" in text and "price" in text and "total" in text
    assert admin_client.get("/admin/pgflow/run/add/").status_code == 403
    assert admin_client.post(f"/admin/pgflow/run/{run_id}/delete/", {"post": "yes"}).status_code == 403
    assert run_id in runs(checkout)
