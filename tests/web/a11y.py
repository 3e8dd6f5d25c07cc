"""Accessibility checks for browser tests: axe-core (shipped by ``axe-playwright-python``)
on the page as it is now. Import and call from any Playwright test::

    from tests.web.a11y import assert_accessible
    assert_accessible(page, "run page")           # 0 serious or critical violations

``axe_violations(page)`` returns the violations (id, impact, help, nodes) for other uses.
"""

from __future__ import annotations

from typing import Any

BLOCKING = ("serious", "critical")


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """axe-core's violations on ``page`` with one of ``impacts``."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = ", ".join(str(n.get("target")) for n in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s): "
                     f"{targets}")
    return "\n".join(lines)


def assert_accessible(page: Any, what: str = "") -> None:
    """No serious or critical axe-core violations on the page."""
    found = axe_violations(page)
    assert not found, f"axe-core on {what or page.url}:\n{describe(found)}"
