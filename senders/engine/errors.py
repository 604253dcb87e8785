"""The one error type of the engine."""

from __future__ import annotations

from collections.abc import Sequence


class OverrideSyntaxError(ValueError):
    """A rule or a table does not follow the override language.

    `line` and `column` are 1-based; columns count code points (a tab is one).
    `token` is the offending text as written, `message` a short human sentence
    without the position. When a whole table was parsed, `errors` holds every
    error found (this one first); for a single error it is `(self,)`.
    """

    line: int
    column: int
    token: str
    message: str
    errors: tuple[OverrideSyntaxError, ...]

    def __init__(
        self,
        message: str,
        *,
        line: int = 1,
        column: int = 1,
        token: str = "",
        errors: Sequence[OverrideSyntaxError] = (),
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.token = token
        self.errors = tuple(errors) or (self,)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"line {self.line}, col {self.column}: {self.message}"

    def __repr__(self) -> str:
        return f"OverrideSyntaxError({str(self)!r}, token={self.token!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (multiprocessing, caches).
        return (_rebuild, (self.message, self.line, self.column, self.token, self.errors[1:]))


def _rebuild(
    message: str, line: int, column: int, token: str, others: tuple[OverrideSyntaxError, ...]
) -> OverrideSyntaxError:
    error = OverrideSyntaxError(message, line=line, column=column, token=token)
    if others:
        error.errors = (error, *others)
    return error
