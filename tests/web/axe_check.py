"""Accessibility checks with axe-core (shipped inside ``axe-playwright-python``): the
serious and critical violations of a page, as readable lines."""

from __future__ import annotations

from typing import Any

BLOCKING = ("serious", "critical")


def blocking_violations(page: Any) -> list[str]:
    """``impact rule: target (summary)`` for each serious or critical violation on *page*."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    out = []
    for v in results.response.get("violations", []):
        if v.get("impact") not in BLOCKING:
            continue
        for node in v.get("nodes", []):
            summary = (node.get("failureSummary") or "").replace("\n", " ")[:200]
            out.append(f"{v['impact']} {v['id']}: {node.get('target')} ({summary})")
    return out
