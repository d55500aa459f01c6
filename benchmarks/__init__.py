"""pgflow-py benchmarks: side by side with what users would pick instead, in one run.

    python -m benchmarks all --quick          # bounded, a few minutes
    python -m benchmarks jobs --reps 5        # one scenario

Results go to docs/benchmarks.md with the machine's description. See docs/benchmarks.md for
the method; no test asserts a timing (tests/benchmarks runs every scenario in a tiny size).
"""
