"""Send the requests under load control: a fixed number in flight, a request budget, a cost cap, a progress bar,
and Ctrl-C that stops sending but keeps every answer already measured.

Requests go case by case, each case to every target in turn, so a run cut short (budget, cap, Ctrl-C) has measured
the targets on the same cases. The cost cap is checked before each request is sent, against the cost of the
requests already answered: up to ``concurrency`` requests in flight may still finish above it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tqdm import tqdm

from evaluation.measure import Record

Job = TypeVar("Job")
POLL_SECONDS = 0.2  # how often the main thread wakes to notice Ctrl-C


@dataclass
class RunOutcome:
    records: list[Record]
    planned: int
    stopped_by: str | None  # None (all sent) | "request budget" | "cost cap" | "interrupted"


def spent(record: Record) -> float:
    return (record.cost_usd or 0.0) + record.judge_cost_usd


def run(
    jobs: Sequence[Job],
    work: Callable[[Job], Record],
    *,
    concurrency: int,
    max_requests: int | None = None,
    max_cost_usd: float | None = None,
    progress: bool = True,
) -> RunOutcome:
    planned = len(jobs) if max_requests is None else min(len(jobs), max_requests)
    stopped_by = "request budget" if planned < len(jobs) else None
    todo: queue.Queue[Job | None] = queue.Queue()
    done: queue.Queue[Record | BaseException] = queue.Queue()

    def worker() -> None:
        while (job := todo.get()) is not None:
            try:
                done.put(work(job))
            except BaseException as error:  # a bug: handed to the main thread, which raises it
                done.put(error)

    # Daemon threads: after Ctrl-C the process may exit without waiting for requests still in flight.
    threads = [threading.Thread(target=worker, daemon=True, name=f"evaluate-{n}") for n in range(max(1, concurrency))]
    for thread in threads:
        thread.start()
    records: list[Record] = []
    sent = in_flight = 0
    cost = 0.0
    bar = tqdm(total=planned, unit="req", disable=not progress, dynamic_ncols=True, leave=False)
    try:
        while True:
            while in_flight < concurrency and sent < planned:
                if max_cost_usd is not None and cost >= max_cost_usd:
                    stopped_by = "cost cap"
                    planned = sent
                    break
                todo.put(jobs[sent])
                sent += 1
                in_flight += 1
            if in_flight == 0:
                break
            try:
                item = done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            in_flight -= 1
            if isinstance(item, BaseException):
                raise item
            records.append(item)
            cost += spent(item)
            bar.update(1)
            bar.set_postfix_str(f"${cost:.4f}", refresh=False)
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    finally:
        bar.close()
        for _ in threads:
            todo.put(None)
    return RunOutcome(records, planned, stopped_by)
