"""Log analysis for InfraGuardian: errors, whole stack traces, templates, digests, correlation.

Entry points:
- `digest_log(source, max_tokens=2000)` / `digest_file(path)` -> `LogDigest`; `render_digest(d)` -> text
- `analyse(lines)` -> events (single lines and multi-line blocks) grouped into templates
- `mine_templates(lines)` -> `TemplateStat` per drain3 template of every line
- `correlate_services({service: lines})` -> merged error timeline, first failing service, clusters
- `explain_exit(code, oom_killed)` -> meaning and next step of a container exit code
"""

from .analysis import Analysis, ErrorEvent, analyse
from .correlate import correlate_services, render_correlation
from .digest import build_digest, digest_file, digest_log, digest_stream, read_source
from .exit_codes import ExitExplanation, explain_exit
from .lines import (
    LogLines,
    ReadLimits,
    lines_from_bytes,
    lines_from_file,
    lines_from_strings,
    lines_from_text,
)
from .models import Correlation, LogDigest, TemplateStat, TraceSummary
from .render import count_tokens, render_digest
from .templates import LogTemplateMiner, mine_templates

__all__ = [
    "Analysis",
    "Correlation",
    "ErrorEvent",
    "ExitExplanation",
    "LogDigest",
    "LogLines",
    "LogTemplateMiner",
    "ReadLimits",
    "TemplateStat",
    "TraceSummary",
    "analyse",
    "build_digest",
    "correlate_services",
    "count_tokens",
    "digest_file",
    "digest_log",
    "digest_stream",
    "explain_exit",
    "lines_from_bytes",
    "lines_from_file",
    "lines_from_strings",
    "lines_from_text",
    "mine_templates",
    "read_source",
    "render_correlation",
    "render_digest",
]
