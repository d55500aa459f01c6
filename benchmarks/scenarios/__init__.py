"""The five scenarios of the suite; each has ``run(bench)`` (measure) and ``render(results)`` (Markdown)."""
