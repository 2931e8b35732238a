"""Label budgets: k labeled images per class, or None for all of them, written "all" in settings,
job folders and JSON. One place for the name, the parsing and the JSON form."""

from __future__ import annotations

Budget = int | None
ALL_LABELS = "all"


def budget_name(k: Budget) -> str:
    """``"10"`` or ``"all"``: a budget as settings, folders and tables name it."""
    return ALL_LABELS if k is None else str(k)


def parse_budget(value: int | str | None) -> Budget:
    """A budget from JSON or a setting (10, "10", "all", None) -> 10 or None."""
    return None if value is None or value == ALL_LABELS else int(value)


def budget_json(k: Budget) -> int | str:
    """A budget as JSON holds it: 10 or "all"."""
    return ALL_LABELS if k is None else k


def budget_order(k: Budget) -> tuple[bool, int]:
    """Sort key: budgets in ascending order, all labels last."""
    return (k is None, k or 0)
