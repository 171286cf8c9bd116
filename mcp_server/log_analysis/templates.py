"""Log template mining with drain3 (the Drain algorithm), in memory, configured in code.

Lines are first masked (timestamps, uuids, IPs, host names, hex, numbers -> <TS>, <UUID>, <IP>,
<HOST>, <HEX>, <NUM>) and stripped of their header: the header format (time, level, pid, host,
component, ...) is learned from the first distinct lines (headers.py), and lines that do not fit
it fall back to generic header patterns. Then Drain groups the messages into templates.
Speed: lines that differ only in digits share one key, and each key is masked and mined once,
so a repetitive log of 100k lines costs a few hundred Drain calls, not 100k.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from drain3 import TemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from .event_words import EventWordSplitter
from .headers import MIN_SAMPLE, HeaderFormat, learn_header
from .lines import LogLines, lines_from_strings
from .masks import NAME_WITH_DIGIT_RE, collapse_lists, digit_keys, join_value_parts, mask_many
from .models import TemplateStat
from .patterns import Severity, find_candidates, line_severity, shapes, strip_header
from .timestamps import time_of_line

# drain3 logs every start at INFO; that is noise inside a server.
logging.getLogger("drain3").setLevel(logging.WARNING)

DEFAULT_SIMILARITY = 0.8
DEFAULT_DEPTH = 4
DEFAULT_MAX_DRAIN_KEYS = 3000
DEFAULT_MAX_CLUSTERS = 2000
MAX_MASKED_KEYS = 50_000
DEFAULT_MAX_EVENT_WORDS = 2  # a wildcard with at most this many different words splits a template
HEADER_SAMPLE = 400  # distinct lines the header format is learned from


def make_template_miner(
    similarity: float = DEFAULT_SIMILARITY, depth: int = DEFAULT_DEPTH, max_children: int = 100
) -> TemplateMiner:
    """A drain3 TemplateMiner without persistence or drain3.ini; masking is done before it."""
    config = TemplateMinerConfig()
    config.drain_sim_th = similarity
    config.drain_depth = depth
    config.drain_max_children = max_children
    config.masking_instructions = []
    config.parametrize_numeric_tokens = True
    config.profiling_enabled = False
    return TemplateMiner(persistence_handler=None, config=config)


class LogTemplateMiner:
    """Assigns a template (cluster) id to each text; texts must be single lines.

    `strip_headers=False` mines the texts as given (use when they are already the message part).
    Drain slows down as clusters pile up in one tree leaf (a log of all-different lines), so
    after `max_drain_keys` distinct masked texts or `max_clusters` templates, further new masked
    texts are grouped exactly instead (negative ids); `overflow_keys` counts them.
    """

    def __init__(
        self,
        similarity: float = DEFAULT_SIMILARITY,
        depth: int = DEFAULT_DEPTH,
        strip_headers: bool = True,
        max_drain_keys: int = DEFAULT_MAX_DRAIN_KEYS,
        max_clusters: int = DEFAULT_MAX_CLUSTERS,
        max_event_words: int = DEFAULT_MAX_EVENT_WORDS,
    ) -> None:
        self._miner = make_template_miner(similarity, depth)
        self._splitter = EventWordSplitter(max_event_words)
        self._final_of_content: dict[str, int] = {}  # masked text -> cluster after splitting
        self._strip_headers = strip_headers
        self._max_drain_keys = max_drain_keys
        self._max_clusters = max_clusters
        self._cluster_of_key: dict[str, int] = {}  # digit-normalised text -> cluster
        self._cluster_of_content: dict[str, int] = {}  # masked text -> cluster
        self._cluster_of_shape: dict[bytes, int] = {}  # coarse shape -> first cluster seen
        self._exact_ids: dict[str, int] = {}
        self._exact_templates: dict[int, str] = {}
        self.overflow_keys = 0
        self.header: HeaderFormat | None = None
        self._header_learned = False

    def add_many(self, texts: Sequence[str], as_is: Sequence[bool] | None = None) -> list[int]:
        """Cluster id for every text, in order.

        `as_is[i]` True mines text i without header stripping (it is already a bare message,
        e.g. an exception line, where stripping would eat the exception class).
        """
        texts = [text.replace("\n", " ") for text in texts]
        keys = digit_keys(texts)
        if len(keys) != len(texts):  # a text held a character that split differently; go one by one
            keys = [digit_keys([text])[0] for text in texts]
        if as_is is not None:
            # The first character records how to mine the text; it is not part of the text.
            keys = [("=" if bare else "~") + key for key, bare in zip(keys, as_is, strict=True)]
        else:
            keys = ["~" + key for key in keys]
        new_keys = [key for key in dict.fromkeys(keys) if key not in self._cluster_of_key]
        key_shapes = shapes(new_keys, collapse=True)
        # Masking costs microseconds per text; past a bound, texts join the cluster of a masked
        # text with the same shape (hex ids and numbers erased), or an exact group.
        room = max(0, MAX_MASKED_KEYS - len(self._cluster_of_key))
        masked_list = mask_many([key[1:] for key in new_keys[:room]])
        self._restore_name_digits(texts, keys, new_keys[:room], masked_list)
        if self._strip_headers and not self._header_learned:
            self._learn_header([m for key, m in zip(new_keys, masked_list, strict=False) if key[0] == "~"])
        header = self.header
        fresh: list[tuple[str, bytes, str, str]] = []  # (key, shape, content key, content)
        # Many keys mask to the same text (hex ids differ in letters too): strip each text once.
        content_key_of: dict[str, dict[str, str]] = {"~": {}, "=": {}}  # mode -> masked -> content key
        for key, shape, masked in zip(new_keys, key_shapes, masked_list, strict=False):
            mode = key[0]
            content_key = content_key_of[mode].get(masked)
            if content_key is None:
                content = self._message(masked, strip=self._strip_headers and mode == "~", header=header)
                content_key = content_key_of[mode][masked] = mode + content
            content = content_key[1:]
            if content_key not in self._cluster_of_content:
                cluster_id = self._cluster_of_content[content_key] = self._new_cluster(content)
                if cluster_id >= 0:
                    self._splitter.add(cluster_id, content)
            fresh.append((key, shape, content_key, content))
        # Event words are judged once all of the batch is in Drain (its templates are final).
        positions_of: dict[int, tuple[int, ...]] = {}
        final_of_content = self._final_of_content
        for key, shape, content_key, content in fresh:
            final_id = final_of_content.get(content_key)
            if final_id is None:
                final_id = self._final_cluster(content_key, content, positions_of)
            self._cluster_of_key[key] = final_id
            self._cluster_of_shape.setdefault(shape, final_id)
        for key, shape in zip(new_keys[room:], key_shapes[room:], strict=True):
            shape_cluster = self._cluster_of_shape.get(shape)
            if shape_cluster is None:
                self.overflow_keys += 1
                shape_cluster = self._cluster_of_shape[shape] = self._exact_group(key[1:].strip())
            self._cluster_of_key[key] = shape_cluster
        return [self._cluster_of_key[key] for key in keys]

    @staticmethod
    def _restore_name_digits(
        texts: Sequence[str], keys: Sequence[str], new_keys: Sequence[str], masked_list: list[str]
    ) -> None:
        """Mask the first text of a key instead of the key where it holds a name with a digit.

        Keys have every digit as 0, so "SOCKS5" would be "SOCKS0" in its template. Masking leaves
        a digit only in such names, so a "0" in a masked key finds them; they are rare, and only
        then are their texts looked up (one pass over the batch).
        """
        wanted = {
            index: new_keys[index]
            for index, masked in enumerate(masked_list)
            if "0" in masked and NAME_WITH_DIGIT_RE.search(masked) is not None
        }
        if not wanted:
            return
        first_text: dict[str, str] = {}
        needed = set(wanted.values())
        for key, text in zip(keys, texts, strict=True):
            if key in needed and key not in first_text:
                first_text[key] = text
        for index, key in wanted.items():
            masked_list[index] = mask_many([first_text[key]])[0]

    @staticmethod
    def _message(masked: str, strip: bool, header: HeaderFormat | None) -> str:
        """The part of a masked text that is mined: without its header, lists as one value."""
        if strip:
            content = header.strip(masked) if header is not None else strip_header(masked)
        else:
            content = masked.strip()
        return collapse_lists(join_value_parts(content)) or "<empty>"

    def _final_cluster(self, content_key: str, content: str, positions_of: dict[int, tuple[int, ...]]) -> int:
        """The cluster of a mined text after event-word splits; decided once per text."""
        final_id = self._final_of_content.get(content_key)
        if final_id is not None:
            return final_id
        cluster_id = self._cluster_of_content[content_key]
        if cluster_id >= 0:
            positions = positions_of.get(cluster_id)
            if positions is None:  # once per Drain cluster and batch
                template = self._drain_template(cluster_id)
                positions = positions_of[cluster_id] = self._splitter.event_positions(cluster_id, template)
            cluster_id = self._splitter.resolve(cluster_id, content, positions)
        self._final_of_content[content_key] = cluster_id
        return cluster_id

    def _learn_header(self, masked: list[str]) -> None:
        """Learn the header format once, from the first batch with enough distinct lines."""
        sample = list(dict.fromkeys(masked[: HEADER_SAMPLE * 2]))[:HEADER_SAMPLE]
        if len(sample) >= MIN_SAMPLE:
            self.header = learn_header(sample)
            self._header_learned = True

    def _new_cluster(self, content: str) -> int:
        """Drain's cluster for a new masked text, or past capacity an exact group (negative id)."""
        drained = len(self._cluster_of_content) - self.overflow_keys
        if drained < self._max_drain_keys and len(self._miner.drain.id_to_cluster) < self._max_clusters:
            return int(self._miner.add_log_message(content)["cluster_id"])
        self.overflow_keys += 1
        return self._exact_group(content)

    def _exact_group(self, content: str) -> int:
        content = content[:500] or "<empty>"
        exact = self._exact_ids.get(content)
        if exact is None:
            exact = self._exact_ids[content] = -1 - len(self._exact_ids)
            self._exact_templates[exact] = content
        return exact

    def _drain_template(self, cluster_id: int) -> list[str]:
        cluster = self._miner.drain.id_to_cluster.get(cluster_id)
        return list(cluster.log_template_tokens) if cluster is not None else []

    def template(self, cluster_id: int) -> str:
        """The current template text of a cluster."""
        if cluster_id < 0:
            return self._exact_templates.get(cluster_id, "<unknown>")
        split = self._splitter.splits.get(cluster_id)
        if split is not None:
            return self._splitter.template(cluster_id, self._drain_template(split[0]))
        cluster = self._miner.drain.id_to_cluster.get(cluster_id)
        return cluster.get_template() if cluster is not None else "<unknown>"

    @property
    def cluster_count(self) -> int:
        """Templates so far (a split Drain template counts once per part)."""
        return len(set(self._final_of_content.values()) | set(self._exact_templates))


@dataclass
class _Aggregate:
    count: int
    first: int
    last: int
    severity: Severity | None


def mine_templates(
    log: LogLines | Sequence[str],
    similarity: float = DEFAULT_SIMILARITY,
    strip_headers: bool = True,
    max_clusters: int = DEFAULT_MAX_CLUSTERS,
) -> list[TemplateStat]:
    """Templates of every line of a log, most frequent first, with counts, times and severity."""
    if not isinstance(log, LogLines):
        log = lines_from_strings(log)
    messages = log.messages
    miner = LogTemplateMiner(similarity, strip_headers=strip_headers, max_clusters=max_clusters)
    cluster_ids = miner.add_many(messages)
    cluster_key = {
        cluster_id: f"t{cluster_id}" if cluster_id >= 0 else f"x{-cluster_id}"
        for cluster_id in set(cluster_ids)
    }
    severities: dict[int, Severity | None] = {
        i: line_severity(messages[i]) for i in find_candidates(messages)
    }
    aggregates: dict[int, _Aggregate] = {}
    for index, cluster_id in enumerate(cluster_ids):
        severity = severities.get(index)
        aggregate = aggregates.get(cluster_id)
        if aggregate is None:
            aggregates[cluster_id] = _Aggregate(1, index, index, severity)
            continue
        aggregate.count += 1
        aggregate.last = index
        if severity == "error" or (severity == "warning" and aggregate.severity is None):
            aggregate.severity = severity
    stats = [
        TemplateStat(
            key=cluster_key[cluster_id],
            template=miner.template(cluster_id),
            count=aggregate.count,
            severity=aggregate.severity,
            is_error=aggregate.severity == "error",
            first_line=log.line_number(aggregate.first),
            last_line=log.line_number(aggregate.last),
            first_time=time_of_line(log, aggregate.first),
            last_time=time_of_line(log, aggregate.last),
            example=messages[aggregate.first][:500],
        )
        for cluster_id, aggregate in aggregates.items()
    ]
    stats.sort(key=lambda stat: (-stat.count, stat.first_line))
    return stats
