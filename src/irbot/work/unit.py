"""One unit of work for every change: one transaction, then delivery.

A service opens a unit, makes its writes through ``unit.session`` (the change itself, its
timeline and evidence records), owes outside work with :meth:`UnitOfWork.owe` and asks for what
must follow the commit with :meth:`UnitOfWork.after_commit` (reminder jobs). Leaving the block
commits everything at once; only then do the after-commit steps run and the owed work start.
Leaving it with an exception rolls everything back and owes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from irbot.store.models import Incident, OutboxItem

if TYPE_CHECKING:
    from irbot.deps import Deps
    from irbot.work.engine import Step


class UnitOfWork:
    def __init__(self, deps: "Deps") -> None:
        self.deps = deps
        self.owed: list[tuple[OutboxItem, Incident | None]] = []  # with its incident as just stored, if given
        self._after: list[Callable[[], None]] = []
        self._session_scope: Any = None
        self.session: Any = None

    async def __aenter__(self) -> "UnitOfWork":
        self._session_scope = self.deps.db.session()
        self.session = await self._session_scope.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> bool:
        committed = False
        try:
            if exc_type is None:
                await self.session.commit()
                committed = True
        finally:
            await self._session_scope.__aexit__(exc_type, exc, traceback)
        if committed:
            for step in self._after:
                step()
            for item, subject in self.owed:
                self.deps.work.deliver_soon(item, incident=subject)
        return False

    async def owe(self, incident_id: int, what: str, steps: list[Step], *, held: bool = True,
                  subject: Incident | None = None) -> OutboxItem:
        """Outside work this change owes; delivered once the unit has committed.

        ``held=False``: not delivered by this unit but in the incident's order, by whatever delivers
        its pending work (the end of its set-up, a kick, the sweep). ``subject``: the incident as
        just stored, which spares a set-up's delivery reading it back."""
        item = await self.deps.work.record(incident_id, what, steps, session=self.session, held=held)
        if held:
            self.owed.append((item, subject))
        return item

    def after_commit(self, step: Callable[[], None]) -> None:
        self._after.append(step)
