from django.db import models


class Order(models.Model):
    total = models.IntegerField(default=0)
    receipt_sent = models.BooleanField(default=False)
