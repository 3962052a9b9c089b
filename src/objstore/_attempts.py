"""How a backend tells the store that an operation took more than one attempt.

While a store observes an operation, a context variable holds that operation's
*tally* (a list, one mark per retry). A backend that sends a request again
after a failed attempt calls :func:`note_retry`, which marks the tally of
whatever operation is current; the store reports ``attempts = 1 + retries``.
Outside an observed operation :func:`note_retry` does nothing, at the cost of
one lookup.

Context variables follow the work: ``AsyncStore`` copies the caller's context
into its worker threads (``run_in_executor`` would not), asyncio tasks inherit
it, and a backend that fans a call out to threads of its own copies it too
(``pool.submit(contextvars.copy_context().run, task)``), so a retry anywhere
in the operation counts. ``list.append`` is atomic, so threads may mark the
same tally at once.
"""

from __future__ import annotations

from contextvars import ContextVar

Tally = list[None]

TALLY: ContextVar[Tally | None] = ContextVar("objstore_tally", default=None)


def note_retry() -> None:
    """Record that the current operation is sending a request again after a failed attempt.

    Call it once per retry (not for the first attempt), whatever caused it: a
    503, a throttling answer, a dropped connection, a write conflict. The
    store's :class:`~objstore.Event` then reports ``attempts`` as one more than
    the retries noted. Harmless, and nearly free, outside an operation.
    """
    tally = TALLY.get()
    if tally is not None:
        tally.append(None)
