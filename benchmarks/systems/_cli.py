"""Argument parsing shared by the systems' worker entry points."""

from __future__ import annotations

import argparse


def worker_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["worker"])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--signal", default="notify")
    parser.add_argument("--flows", default="bench_job", help="pgflow: comma-separated flow slugs to serve")
    parser.add_argument("--out", default=None, help="pgflow: write the handlers' latencies (JSON) here at exit")
    return parser.parse_args(argv)
