"""Fuzzy names for Telegram commands: "granada api" → the service `api` of the compose whose
appName, Dokploy name or project contains "granada".

The inventory is the `list_inventory` tool's structured answer (the MCP server's view). A name
resolves to exactly one target or to a question: several close candidates are asked back, never
guessed. For a mutation (restart, deploy, rollback, mute) every word must match exactly or as a
part of a name (no typo tolerance) and only one target may match (an exact "app/service" always
does); a read takes the best
match when it is clearly ahead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

EXACT = 1.0  # the word is the whole name
PART = 0.9  # the word is part of a name ("granada" in "granada-web-x1y2")
FUZZY_FLOOR = 0.75  # difflib ratio below which a word does not match a name at all
CLEAR_LEAD = 0.25  # how far ahead of the runner-up a read's best match must be
MAX_CANDIDATES = 6  # how many candidates a question back lists


@dataclass(frozen=True)
class ComposeRef:
    """One stack of the inventory (a compose, stack or swarm service)."""

    host: str
    app_name: str
    dokploy_name: str | None = None
    project: str | None = None
    kind: str = "compose"
    services: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        extra = self.dokploy_name or self.project
        return f"{self.app_name} ({extra})" if extra and extra != self.app_name else self.app_name

    def names(self) -> list[str]:
        return [n.lower() for n in (self.app_name, self.dokploy_name, self.project) if n]


@dataclass(frozen=True)
class ServiceRef:
    """One service of one stack."""

    compose: ComposeRef
    service: str

    @property
    def host(self) -> str:
        return self.compose.host

    @property
    def app_name(self) -> str:
        return self.compose.app_name

    @property
    def label(self) -> str:
        return f"{self.compose.app_name}/{self.service}"

    @property
    def target_key(self) -> str:
        """The incident store's target key for this service (agent_host.incidents.grouping)."""
        return f"service:{self.host}/{self.app_name}/{self.service}"


T = TypeVar("T", ComposeRef, ServiceRef)


@dataclass
class Resolution(Generic[T]):
    """`match` when the name names one target; otherwise `candidates` to ask back (maybe none)."""

    query: str
    match: T | None = None
    candidates: list[T] = field(default_factory=list)

    def question(self, what: str) -> str:
        """The one line to send back when there is no match (plain text, to be escaped)."""
        if not self.candidates:
            return f"no {what} matches '{self.query}'; /services lists them"
        names = ", ".join(c.label for c in self.candidates[:MAX_CANDIDATES])
        return f"'{self.query}' could be several {what}s: {names}. Send the command again with one of them."


def composes_of(inventory: Mapping[str, Any]) -> list[ComposeRef]:
    """The stacks of a `list_inventory` answer."""
    host = str(inventory.get("host") or "local")
    out = []
    for entry in inventory.get("entries") or []:
        out.append(
            ComposeRef(
                host=host,
                app_name=str(entry["app_name"]),
                dokploy_name=entry.get("dokploy_name"),
                project=entry.get("project"),
                kind=str(entry.get("kind") or "compose"),
                services=tuple(str(s["name"]) for s in entry.get("services") or []),
            )
        )
    return out


def services_of(inventory: Mapping[str, Any]) -> list[ServiceRef]:
    """Every service of every stack of a `list_inventory` answer."""
    return [ServiceRef(c, s) for c in composes_of(inventory) for s in c.services]


def words_of(query: str | Sequence[str]) -> list[str]:
    """The words of a name as typed: spaces and '/' separate them, case does not count."""
    text = query if isinstance(query, str) else " ".join(query)
    return [w for w in re.split(r"[\s/]+", text.lower()) if w]


def word_score(word: str, names: Iterable[str], *, exact_only: bool = False) -> float:
    """How well one typed word matches the best of `names` (lower-case): 1 equal, 0.9 a part, a
    difflib ratio for a near miss (none when `exact_only`), 0 no match."""
    best = 0.0
    for name in names:
        if word == name:
            return EXACT
        if len(word) >= 2 and word in name:
            best = max(best, PART)
        elif not exact_only:
            pieces = [name, *re.split(r"[-_.]+", name)]
            ratio = max(difflib.SequenceMatcher(None, word, p).ratio() for p in pieces if p)
            if ratio >= FUZZY_FLOOR:
                best = max(best, ratio * 0.8)
    return best


def _score(words: Sequence[str], fields: Sequence[list[str]], *, exact_only: bool) -> float | None:
    """Sum of each word's best score over the fields; None when a word matches nothing. A word
    that matches the last field (the service name) counts a little more, so "api" prefers a
    service called api over a stack whose name contains "api"."""
    total = 0.0
    for word in words:
        scores = [word_score(word, f, exact_only=exact_only) for f in fields]
        best = max(scores)
        if best <= 0:
            return None
        total += best + (0.05 if scores[-1] == best and len(fields) > 1 else 0.0)
    return total


def _pick(query: str, scored: list[tuple[float, T]], *, mutation: bool) -> Resolution[T]:
    scored.sort(key=lambda pair: -pair[0])
    if not scored:
        return Resolution(query)
    if mutation:  # never a guess: one target matches, or the user is asked
        if len(scored) == 1:
            return Resolution(query, match=scored[0][1])
        return Resolution(query, candidates=[ref for _, ref in scored])
    top = scored[0][0]
    if len(scored) == 1 or top - scored[1][0] >= CLEAR_LEAD:
        return Resolution(query, match=scored[0][1])
    return Resolution(query, candidates=[ref for score, ref in scored if score >= top - CLEAR_LEAD])


def resolve_service(
    query: str | Sequence[str], inventory: Mapping[str, Any], *, mutation: bool
) -> Resolution[ServiceRef]:
    """The service a user named ("granada api", "shop-x1/api", "api"). For a mutation only
    whole-or-part matches count and anything not clearly one service is asked back."""
    words = words_of(query)
    text = " ".join(words)
    services = services_of(inventory)
    exact = [s for s in services if s.label.lower() == text.replace(" ", "/")]
    if len(exact) == 1:
        return Resolution(text, match=exact[0])
    scored = []
    for ref in services:
        fields = [ref.compose.names(), [ref.service.lower()]]
        score = _score(words, fields, exact_only=mutation)
        if score is not None:
            scored.append((score, ref))
    return _pick(text, scored, mutation=mutation)


def resolve_compose(
    query: str | Sequence[str], inventory: Mapping[str, Any], *, mutation: bool
) -> Resolution[ComposeRef]:
    """The stack a user named ("granada", "granada-web-x1y2"), by appName, Dokploy name or project."""
    words = words_of(query)
    text = " ".join(words)
    composes = composes_of(inventory)
    exact = [c for c in composes if c.app_name.lower() == text]
    if len(exact) == 1:
        return Resolution(text, match=exact[0])
    scored = []
    for ref in composes:
        score = _score(words, [ref.names()], exact_only=mutation)
        if score is not None:
            scored.append((score, ref))
    return _pick(text, scored, mutation=mutation)
