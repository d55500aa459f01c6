"""Complete claimed tasks from several threads at once, each with its own connection."""

import threading

import psycopg

from tests.sql.helpers import complete_task


def complete_concurrently(db_url, run_id, claimed, output_of, threads=4):
    """Share `claimed` tasks among `threads` connections that start together after a barrier and
    complete each task (output_of(task)) in its own committed transaction."""
    barrier = threading.Barrier(threads, timeout=30)
    errors: list[BaseException] = []

    def complete_share(share):
        try:
            with psycopg.connect(db_url) as conn:
                barrier.wait()
                for t in share:
                    complete_task(conn, run_id, t["step_slug"], t["task_index"], output_of(t))
                    conn.commit()
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)

    workers = [threading.Thread(target=complete_share, args=(claimed[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert not any(worker.is_alive() for worker in workers), "a completing thread did not finish"
