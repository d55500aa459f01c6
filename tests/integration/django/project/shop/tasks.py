"""Tasks of Django's tasks framework, run by a pgflow worker through the pgflow backend."""

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

from shop.models import Order


class ReceiptError(Exception):
    pass


@task
def send_receipt(order_id: int) -> dict:
    order = Order.objects.get(pk=order_id)
    if order.total < 0:
        raise ReceiptError(f"order {order_id} has a negative total")
    order.receipt_sent = True
    order.save()
    return {"sent": order_id}


@task(takes_context=True)
def which_attempt(context, label: str) -> str:
    return f"{label}: run {context.task_result.id}"
