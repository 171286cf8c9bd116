"""Split a Drain template where its wildcard only ever holds a few plain words.

Drain merges messages that differ in one token out of many: `VM Paused (Lifecycle Event)` and
`VM Resumed (Lifecycle Event)`, `"GET <path>"` and `"POST <path>"`, `stored as bytes` and
`stored as values`. After masking, values (numbers, ids, IPs, hosts) are no longer what differs;
a wildcard position that holds only 2..`max_words` different plain words across all messages of
a template names different events, while one holding many (user names, file names) is a
parameter. So a template is split by the words at such positions (and always by HTTP methods).
"""

from __future__ import annotations

import re
from collections import defaultdict

# A plain word, maybe with one trailing punctuation mark ("Paused", "bytes,", "GET"), or a name
# with a digit that masking kept as a word ("SOCKS5").
_WORD_RE = re.compile(r"[\"'(]?(?:[A-Za-z][A-Za-z_-]*|[A-Z]{2,}\d{1,2})[\"'.,;:!)]?")
# HTTP methods name different requests (the digest's access-log groups keep them apart too),
# however many of them a position holds.
_HTTP_METHOD_RE = re.compile(r"\"?(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|CONNECT|TRACE)")
# 3..MAX_STATE_WORDS capitalised words in one position are the states or actions a program
# names in its own vocabulary (`VM Paused/Resumed/Started/Stopped`, `RUNNING/FAILED/KILLED`);
# user-given names (users, hosts, files) are rarely capitalised, so there only 2 words split.
MAX_STATE_WORDS = 5
_CAPITALISED_RE = re.compile(r"[\"'(]?(?:[A-Z][a-z]{2,}|[A-Z]{3,})[\"'.,;:!)]?")
WILDCARD = "<*>"
SPLIT_ID_BASE = 1 << 30  # ids of split templates; Drain's own ids are small positive numbers


class EventWordSplitter:
    """Maps (Drain cluster, message) to a cluster id that keeps event words apart."""

    def __init__(self, max_words: int) -> None:
        self.max_words = max_words
        self._messages: dict[int, list[list[str]]] = defaultdict(list)  # cluster -> token lists
        self._split_ids: dict[tuple[int, tuple[int, ...], tuple[str, ...]], int] = {}
        self.splits: dict[int, tuple[int, tuple[int, ...], tuple[str, ...]]] = {}

    def add(self, cluster_id: int, message: str) -> None:
        """Record one distinct message of a Drain cluster (before `resolve`)."""
        self._messages[cluster_id].append(message.split())

    def event_positions(self, cluster_id: int, template: list[str]) -> tuple[int, ...]:
        """Wildcard positions of `template` that hold only a few different plain words."""
        if self.max_words < 2 or WILDCARD not in template:
            return ()
        messages = [tokens for tokens in self._messages[cluster_id] if len(tokens) == len(template)]
        positions = []
        for position, token in enumerate(template):
            if token != WILDCARD:
                continue
            values = {tokens[position] for tokens in messages}
            if len(values) < 2:
                continue
            few_words = len(values) <= self.max_words and all(_WORD_RE.fullmatch(value) for value in values)
            states = len(values) <= MAX_STATE_WORDS and all(
                _CAPITALISED_RE.fullmatch(value) for value in values
            )
            if few_words or states or all(_HTTP_METHOD_RE.fullmatch(value) for value in values):
                positions.append(position)
        return tuple(positions)

    def resolve(self, cluster_id: int, message: str, positions: tuple[int, ...]) -> int:
        """The id for `message` of `cluster_id`, split by its words at `positions`."""
        tokens = message.split()
        if not positions or len(tokens) <= positions[-1]:
            return cluster_id
        words = tuple(tokens[position] for position in positions)
        key = (cluster_id, positions, words)
        split_id = self._split_ids.get(key)
        if split_id is None:
            split_id = self._split_ids[key] = SPLIT_ID_BASE + len(self._split_ids)
            self.splits[split_id] = key
        return split_id

    def template(self, split_id: int, template: list[str]) -> str:
        """The text of a split template, from its Drain cluster's current template tokens."""
        _, positions, words = self.splits[split_id]
        tokens = list(template)
        for position, word in zip(positions, words, strict=True):
            if position < len(tokens) and tokens[position] == WILDCARD:
                tokens[position] = word
        return " ".join(tokens)
