"""Discovered by pgflow.contrib.django (an app's 'flows' module)."""

import pgflow
from pgflow.contrib.django import uses_orm

checkout = pgflow.Flow("shop_checkout")


@checkout.array
def lines(input):
    return input["lines"]


@checkout.map(array=lines)
def price(line):
    return line * 100


@checkout.step(depends_on=[price])
@uses_orm  # the worker thread's Django connection is closed after the call, as after a request
def total(deps, ctx):
    from shop.models import Order

    order = Order.objects.create(total=sum(deps["price"]))  # the ORM inside a handler
    return {"order_id": order.pk, "total": order.total}
