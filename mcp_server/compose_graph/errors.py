"""Errors raised while reading a compose file or answering questions about its graph.

Every error is a `ComposeError`. `line` is the 1-based line in the compose file the error is
about (None when no single line is to blame), and `str(error)` is one readable line that
already contains the line number, so a command line can print it as is.
"""

from __future__ import annotations


class ComposeError(Exception):
    """Base class: a compose file could not be read or analysed.

    `message` is the bare reason; `line` is the 1-based line number or None;
    `source` names the file (or "<env file>") the line number refers to.
    """

    def __init__(self, message: str, line: int | None = None, source: str | None = None) -> None:
        self.message = message
        self.line = line
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.source or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        return f"{where}: {self.message}" if where else self.message

    def with_source(self, source: str) -> ComposeError:
        """Return the same error, naming the file it happened in (for messages)."""
        self.source = source
        self.args = (self._render(),)
        return self


class ComposeYAMLError(ComposeError):
    """The text is not valid YAML (syntax error, duplicate key, bad merge key)."""


class ComposeStructureError(ComposeError):
    """Valid YAML, but not the shape of a compose file (no `services`, wrong types)."""


class InterpolationError(ComposeError):
    """A `${...}` expression is malformed, or a required variable (`${VAR:?msg}`) is missing.

    `variable` is the variable name when a required one is missing, else None.
    """

    def __init__(
        self, message: str, line: int | None = None, source: str | None = None, variable: str | None = None
    ) -> None:
        self.variable = variable
        super().__init__(message, line, source)


class EnvFileError(ComposeError):
    """A `.env` file could not be parsed (bad key, unterminated quote)."""


class UnknownServiceError(ComposeError):
    """A service refers (depends_on, links, volumes_from, network_mode…) to a service that is not defined.

    `service` is the service holding the reference, `unknown` the name that does not exist.
    """

    def __init__(self, service: str, unknown: str, via: str, line: int | None, source: str | None = None):
        self.service = service
        self.unknown = unknown
        self.via = via
        super().__init__(
            f'service "{service}" depends on undefined service "{unknown}" (via {via})', line, source
        )


class DependencyCycleError(ComposeError):
    """The explicit dependencies form a cycle, so there is no start order.

    `cycle` lists the services in order, first one repeated at the end: ["a", "b", "a"].
    """

    def __init__(self, cycle: list[str], line: int | None = None, source: str | None = None) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle detected: " + " -> ".join(cycle), line, source)
