"""One module per system under test. Each offers setup(dsn), enqueue(dsn, n), REMAINING_SQL and
a ``worker`` entry point (``python -m benchmarks.systems.<name> worker --dsn ...``)."""
