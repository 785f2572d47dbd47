"""Errors a user can act on.

Every error that comes from the user's input is an :class:`EmtradeError`; the CLI prints its
message (one line per problem) and exits with code 2, with no traceback unless ``--debug``.
"""

from __future__ import annotations

from dataclasses import dataclass


class EmtradeError(Exception):
    """An error caused by the input or the policy, not by a bug: shown without a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario, located as precisely as the input allows.

    ``source`` is the file (or ``<dict>`` for in-memory scenarios), ``where`` the table row or key
    (``enterprises.csv line 18 (id ZB-03)`` or ``caps[2]``), and ``message`` what is wrong.
    """

    source: str
    where: str
    message: str

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.where) if p]
        return ": ".join([*parts, self.message])


class ScenarioError(EmtradeError):
    """A scenario that cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InfeasibleError(EmtradeError):
    """The policy cannot be met: caps, limits or phase-outs ask for more abatement than exists."""


class SolverError(EmtradeError):
    """The solver did not reach a usable solution (time limit without a feasible point, numerics)."""


#: the longest excerpt of the user's input that a message quotes (characters, with the ellipsis)
EXCERPT_CHARS = 40


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters with an ellipsis, never building a huge repr first.

    Messages quote what they refuse; a value may be a whole file read as a table, a list of a
    million rows or an integer of 5,000 digits, so the repr is built by :mod:`reprlib` with small
    limits and then cut.

    >>> excerpt("PRETTY_NAME=Debian GNU/Linux 12 (bookworm) and more")
    "'PRETTY_NAME=Debian GNU/Linux 12 (bookw…"
    >>> excerpt(list(range(10**6)))
    '[0, 1, 2, 3, 4, 5, …]'
    """
    import reprlib

    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = shortener.maxlong = limit + 8
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 6
    shortener.maxlevel = 3
    if isinstance(value, str):  # the start of a text, not its middle
        value = value[: limit + 1]
    try:
        text = shortener.repr(value)
    except ValueError:  # an int beyond Python's limit on int-to-text conversion (4,300 digits)
        return "<a number of more than 4,300 digits>"
    text = text.replace("...", "…")
    return text if len(text) <= limit else text[: limit - 1] + "…"
