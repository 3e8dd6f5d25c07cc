"""``submit --wait``: one click progress bar over the wells of every submitted run."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from platequeue.states import TERMINAL_RUN


def wait_for_runs(platform: Any, run_ids: list[int], *, bar: bool,
                  interval: float = 0.5) -> list[Any]:
    """Poll the runs until each has ended; return their final views.

    With ``bar``, click's progress bar on standard error counts wells ended (done, which
    includes incremental skips, or failed) out of all wells, shows how many failed and
    click's ETA; standard output stays free for the summary (or the ``--json`` document).
    """
    from platequeue import runs

    views = [runs.status(platform, r) for r in run_ids]
    total = sum(v.wells_total for v in views)

    def ended(vs: list[Any]) -> int:
        return sum(v.wells_done + v.wells_failed for v in vs)

    def failed(vs: list[Any]) -> int:
        return sum(v.wells_failed for v in vs)

    if not bar:
        while not all(v.status in TERMINAL_RUN for v in views):
            time.sleep(interval)
            views = [runs.status(platform, r) for r in run_ids]
        return views
    label = (f"run {run_ids[0]}" if len(run_ids) == 1
             else f"{len(run_ids)} runs ({', '.join(map(str, run_ids))})")
    progress: Any
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr,
                           show_eta=True, show_percent=True, show_pos=True,
                           item_show_func=lambda _: f"{failed(views)} failed") as progress:
        shown = 0
        while True:
            now = min(ended(views), total)
            if now > shown:
                progress.update(now - shown)
                shown = now
            if all(v.status in TERMINAL_RUN for v in views):
                return views
            time.sleep(interval)
            views = [runs.status(platform, r) for r in run_ids]
