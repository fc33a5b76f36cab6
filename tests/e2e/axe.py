"""axe-core (bundled by the axe-playwright-python package) run on the page a browser test shows."""

from axe_playwright_python.sync_playwright import Axe

# The impacts the portal never ships: a test fails on any of them (moderate and minor ones are only listed).
BLOCKING_IMPACTS = {"serious", "critical"}

_axe = Axe()


def blocking_violations(page, context: str | dict | None = None) -> list[str]:
    """axe-core's serious and critical violations on `page` (or in `context`: a selector, or axe's include/exclude), one
    line each."""
    results = _axe.run(page, context=context)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]
