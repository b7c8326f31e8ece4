"""
Folding repeated failure rows in the audit log. Every failed sign-in is audited, so a
flood of them (made-up addresses from ever new clients) would add a row per request for
ever. Within each minute, the first `ROWS_PER_MINUTE` failures of one kind (event, method,
reason, account) get a row each; the rest are counted on one more row, `repeats`, updated
in place. The log keeps every failure's count and the first ones' details, and grows by a
bounded number of rows a minute whatever the flood.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["FailureFolds", "Fold"]

ROWS_PER_MINUTE = 5
WINDOW = timedelta(minutes=1)
#: Kinds remembered (least recently seen forgotten first; a forgotten kind just starts a
#: new minute).
MAX_KINDS = 10_000

Kind = tuple[str, str, str, str | None]


@dataclass(slots=True)
class Fold:
    """The minute a kind of failure is in: how many so far, and its summary row once
    there is one."""

    started: datetime
    count: int = 0
    summary_id: str | None = None

    @property
    def repeats(self) -> int:
        """Failures counted on the summary row."""
        return self.count - ROWS_PER_MINUTE


class FailureFolds:
    """Per-process memory of which failures are being folded."""

    def __init__(self) -> None:
        self._folds: OrderedDict[Kind, Fold] = OrderedDict()

    def count(self, kind: Kind, now: datetime) -> Fold:
        """Count one failure of `kind` at `now`; a fold with `count` <= ROWS_PER_MINUTE
        means "write a row of its own"."""
        fold = self._folds.get(kind)
        if fold is None or now - fold.started >= WINDOW:
            fold = Fold(started=now)
            self._folds[kind] = fold
        self._folds.move_to_end(kind)
        fold.count += 1
        while len(self._folds) > MAX_KINDS:
            self._folds.popitem(last=False)
        return fold
