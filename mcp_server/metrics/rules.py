"""Metric rules: one line that says which number to read, where, and when it is a problem.

    <url> <selector> <op> <number>[unit] [for <duration>] [runbook=<name>] [severity=warning|critical]

    http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m
    http://n8n:5678/metrics n8n_jobs{queue="default",state="waiting"} >= 100
    http://api:8080/stats json:queue.waiting > 50 for 2m runbook=queue-stuck
    http://qdrant:6333/healthz p95 > 500ms for 2m severity=critical

Selectors:
- `metric_name` or `metric_name{label="v",other!="x",path=~"/api.*"}`: a Prometheus metric in the
  text exposition format; when several series match, their values are summed.
- `json:<dotted.path>`: the number at that path of a JSON body (`items.0.count` indexes a list).
- `p50`, `p90`, `p95`, `p99` (any `pNN`) or `latency`: the time a GET of the URL takes, measured by
  us. `pNN` is that percentile over the `for` window; `latency` judges each request's time on its own.
  The threshold needs a time unit (`500ms`, `2s`); values and thresholds are kept in milliseconds.

Operators `> >= < <= == !=`; durations `30s`, `5m`, `2h`, `1d`; `for` defaults to 0 (the latest
reading decides). `parse_rule` turns the text into a `MetricRule` or raises `RuleError`, whose
message is one line naming the rule and what to write instead.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from mcp_server.redaction import redact_text

SourceKind = Literal["prometheus", "json", "latency"]
RuleSeverity = Literal["warning", "critical"]

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_LATENCY_UNITS_MS = {"ms": 1.0, "s": 1000.0}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_METRIC_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?|100)")
_NUMBER = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z]*)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
MAX_RULE_CHARS = 2000


class RuleError(ValueError):
    """A rule text that cannot be used; the message is one line: the rule, what is wrong, the fix."""


class LabelMatcher(BaseModel):
    """One `label="value"` condition of a Prometheus selector (`=`, `!=`, `=~`, `!~`)."""

    model_config = ConfigDict(frozen=True)

    label: str
    op: Literal["=", "!=", "=~", "!~"]
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        seen = labels.get(self.label, "")
        if self.op == "=":
            return seen == self.value
        if self.op == "!=":
            return seen != self.value
        found = re.fullmatch(self.value, seen) is not None
        return found if self.op == "=~" else not found


class MetricRule(BaseModel):
    """One parsed rule. `threshold` and the values read are in milliseconds for latency rules."""

    model_config = ConfigDict(frozen=True)

    name: str
    text: str  # the rule as written (may hold secrets in its URL: show `shown_text()`)
    url: str
    source_kind: SourceKind
    metric: str  # Prometheus metric name, JSON path, "p95" or "latency"
    matchers: tuple[LabelMatcher, ...] = ()
    operator: str
    threshold: float
    unit: Literal["", "ms"] = ""
    for_s: float = 0.0
    percentile: float | None = None  # latency pNN rules only
    runbook: str | None = None
    severity: RuleSeverity = "warning"

    def breaches(self, value: float) -> bool:
        """True when `value` meets the rule's condition (the bad side of the threshold)."""
        return OPERATORS[self.operator](value, self.threshold)

    def chosen_runbook(self) -> str:
        """The explicit runbook, else `queue-stuck` for rules named queue…, `slow-responses` for
        latency rules, else `metric-threshold`."""
        if self.runbook:
            return self.runbook
        if self.name.lower().startswith("queue"):
            return "queue-stuck"
        if self.source_kind == "latency":
            return "slow-responses"
        return "metric-threshold"

    def selector(self) -> str:
        """The selector as a person would write it: `name{label="v"}`, `json:a.b`, `p95`."""
        if self.source_kind == "json":
            return f"json:{self.metric}"
        if not self.matchers:
            return self.metric
        inner = ",".join(f'{m.label}{m.op}"{m.value}"' for m in self.matchers)
        return f"{self.metric}{{{inner}}}"

    def shown_url(self) -> str:
        """The URL with credentials and tokens masked (for evidence, summaries and logs)."""
        return redact_text(self.url)

    def shown_text(self) -> str:
        return redact_text(self.text)


def format_duration(seconds: float) -> str:
    """`300.0` → `5m`, `90` → `90s`, `7200` → `2h` (the shortest exact form)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _split(text: str) -> list[str]:
    """Whitespace-separated tokens; whitespace inside `{…}` and double quotes stays in its token."""
    tokens: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            continue
        if char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth = max(depth - 1, 0)
        if char.isspace() and depth == 0:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def parse_duration(text: str) -> float | None:
    """Seconds of `30s`, `5m`, `2h`, `1d`, `500ms`, or None when `text` is not such a duration."""
    found = _DURATION.fullmatch(text)
    return float(found.group(1)) * _DURATION_UNITS[found.group(2)] if found else None


def _check_url(prefix: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleError(
            f"{prefix}: the rule must start with an http:// or https:// URL, e.g. "
            f"'http://n8n:5678/metrics n8n_queue_waiting > 10' (got '{redact_text(url)[:80]}')"
        )


def _parse_matchers(prefix: str, inner: str) -> tuple[LabelMatcher, ...]:
    matchers: list[LabelMatcher] = []
    position = 0
    while position < len(inner):
        found = _MATCHER.match(inner, position)
        if found is None or found.end() == position:
            raise RuleError(
                f'{prefix}: label matchers must look like {{queue="default",state!="done"}} '
                f"(could not read '{inner[position:][:40]}')"
            )
        label, op, raw = found.group(1), found.group(2), found.group(3)
        value = raw.replace('\\"', '"').replace("\\\\", "\\")
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise RuleError(
                    f"{prefix}: the pattern of label {label} is not a valid regex ({exc})"
                ) from exc
        matchers.append(LabelMatcher(label=label, op=op, value=value))  # type: ignore[arg-type]
        position = found.end()
    return tuple(matchers)


def _parse_selector(
    prefix: str, token: str
) -> tuple[SourceKind, str, tuple[LabelMatcher, ...], float | None]:
    """(source kind, metric, label matchers, percentile) of a selector token."""
    if any(op in token for op in ("<", ">", "==", "!=")) and "{" not in token:
        raise RuleError(f"{prefix}: put spaces around the operator, e.g. 'n8n_queue_waiting > 10'")
    if token.startswith("json:"):
        path = token.removeprefix("json:")
        if any(not part for part in path.split(".")) and path:
            raise RuleError(
                f"{prefix}: the JSON path '{path}' has an empty part; write it like json:queue.waiting"
            )
        return "json", path, (), None
    lowered = token.lower()
    if lowered == "latency":
        return "latency", "latency", (), None
    if (found := _PERCENTILE.fullmatch(lowered)) is not None:
        pct = float(found.group(1))
        if not 0 < pct <= 100:
            raise RuleError(f"{prefix}: the percentile must be between p1 and p100, not {token}")
        return "latency", lowered, (), pct
    name, brace, rest = token.partition("{")
    if not _METRIC_NAME.fullmatch(name):
        raise RuleError(
            f"{prefix}: '{token[:60]}' is not a selector; use a Prometheus metric name "
            f"(n8n_queue_waiting), json:<path>, or p50/p90/p95/p99/latency"
        )
    if not brace:
        return "prometheus", name, (), None
    if not rest.endswith("}"):
        raise RuleError(f"{prefix}: the label matchers of {name} must end with '}}'")
    return "prometheus", name, _parse_matchers(prefix, rest[:-1]), None


def _parse_threshold(prefix: str, token: str, kind: SourceKind) -> tuple[float, Literal["", "ms"]]:
    found = _NUMBER.fullmatch(token)
    if found is None:
        raise RuleError(f"{prefix}: the threshold '{token[:40]}' must be a number, e.g. 10, 0.5 or 500ms")
    value, unit = float(found.group(1)), found.group(2).lower()
    if kind == "latency":
        if unit not in _LATENCY_UNITS_MS:
            raise RuleError(
                f"{prefix}: a latency threshold needs a time unit, e.g. 500ms or 2s (got '{token}')"
            )
        if value <= 0:
            raise RuleError(f"{prefix}: a latency threshold must be above zero (got '{token}')")
        return value * _LATENCY_UNITS_MS[unit], "ms"
    if unit:
        raise RuleError(
            f"{prefix}: the threshold '{token}' has a unit, which only latency rules take (p95 > 500ms); "
            "write the number in the metric's own unit"
        )
    return value, ""


def parse_rule(
    name: str, text: str, *, runbook: str | None = None, severity: RuleSeverity | None = None
) -> MetricRule:
    """Parse one rule line (see the module docstring). `runbook`/`severity` are the config file's
    fields; tokens in the text override them. Raises RuleError with a one-line message."""
    prefix = f"rule {name[:64]}"
    if not _NAME.fullmatch(name):
        raise RuleError(
            f"{prefix}: a rule name is 1-64 letters, digits, '_', '.' or '-' and starts with a letter or digit"
        )
    text = " ".join(text.split())
    if not text:
        raise RuleError(
            f"{prefix}: the rule is empty; write e.g. 'http://n8n:5678/metrics n8n_queue_waiting > 10 for 5m'"
        )
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(f"{prefix}: the rule is longer than {MAX_RULE_CHARS} characters")
    tokens = _split(text)
    url = tokens[0]
    _check_url(prefix, url)
    # the selector first: 'queue>10' is one token, and its error says to add spaces
    kind, metric, matchers, pct = (
        _parse_selector(prefix, tokens[1]) if len(tokens) > 1 else ("json", "", (), None)
    )
    if len(tokens) < 4:
        raise RuleError(
            f"{prefix}: after the URL write '<selector> <operator> <threshold>', e.g. 'n8n_queue_waiting > 10'"
        )
    op = tokens[2]
    if op not in OPERATORS:
        raise RuleError(f"{prefix}: '{op[:20]}' is not an operator; use one of {' '.join(OPERATORS)}")
    threshold, unit = _parse_threshold(prefix, tokens[3], kind)
    for_s = 0.0
    rest = tokens[4:]
    if rest and rest[0].lower() == "for":
        if len(rest) < 2:
            raise RuleError(f"{prefix}: 'for' needs a duration like 5m")
        duration = parse_duration(rest[1].lower())
        if duration is None:
            raise RuleError(f"{prefix}: 'for {rest[1][:20]}' needs a duration like 30s, 5m or 2h")
        for_s, rest = duration, rest[2:]
    for token in rest:
        key, equals, value = token.partition("=")
        if not equals or key not in ("runbook", "severity"):
            raise RuleError(
                f"{prefix}: unexpected '{token[:40]}' after the threshold; only 'for <duration>', "
                "'runbook=<name>' and 'severity=warning|critical' may follow"
            )
        if key == "runbook":
            if not _NAME.fullmatch(value):
                raise RuleError(f"{prefix}: runbook= needs a runbook name like queue-stuck")
            runbook = value
        elif value in ("warning", "critical"):
            severity = value  # type: ignore[assignment]
        else:
            raise RuleError(f"{prefix}: severity= must be warning or critical, not '{value[:20]}'")
    return MetricRule(
        name=name,
        text=text,
        url=url,
        source_kind=kind,
        metric=metric,
        matchers=matchers,
        operator=op,
        threshold=threshold,
        unit=unit,
        for_s=for_s,
        percentile=pct,
        runbook=runbook,
        severity=severity or "warning",
    )


@functools.lru_cache(maxsize=1024)
def _parse_label_rule(name: str, text: str) -> MetricRule:
    """`parse_rule` remembered: every round re-reads the same labels (rules are frozen, so shared)."""
    return parse_rule(name, text)


def rules_from_labels(
    labels: Mapping[str, str], prefix: str
) -> tuple[list[MetricRule], list[tuple[str, str]]]:
    """The rules declared by a container's labels `<prefix><name>: "<rule>"`, and the labels that
    could not be read as (label, one-line error)."""
    rules: list[MetricRule] = []
    errors: list[tuple[str, str]] = []
    for label in sorted(labels):
        if not label.startswith(prefix):
            continue
        try:
            rules.append(_parse_label_rule(label.removeprefix(prefix), labels[label]))
        except RuleError as exc:
            errors.append((label, str(exc)))
    return rules, errors
