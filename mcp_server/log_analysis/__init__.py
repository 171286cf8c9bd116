"""Log analysis for InfraGuardian: errors, whole stack traces, templates, digests, correlation.

Entry points:
- `digest_log(source, max_tokens=2000)` / `digest_file(path)` -> `LogDigest`; `render_digest(d)` -> text
- `analyse(lines)` -> events (single lines and multi-line blocks) grouped into templates
- `mine_templates(lines)` -> `TemplateStat` per drain3 template of every line
- `correlate_services({service: lines})` -> merged error timeline, first failing service, clusters
- `explain_exit(code, oom_killed)` -> meaning and next step of a container exit code
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_server.lazy_exports import lazy_exports

# Each public name and the module that defines it. The modules load on first use (PEP 562), so
# `import mcp_server.log_analysis.cli` does not pay for drain3 or pydantic models it never uses.
_EXPORTS = {
    "Analysis": "analysis",
    "ErrorEvent": "analysis",
    "analyse": "analysis",
    "correlate_services": "correlate",
    "render_correlation": "correlate",
    "build_digest": "digest",
    "digest_file": "digest",
    "digest_log": "digest",
    "digest_stream": "digest",
    "read_source": "digest",
    "ExitExplanation": "exit_codes",
    "explain_exit": "exit_codes",
    "LogLines": "lines",
    "ReadLimits": "lines",
    "lines_from_bytes": "lines",
    "lines_from_file": "lines",
    "lines_from_strings": "lines",
    "lines_from_text": "lines",
    "Correlation": "models",
    "LogDigest": "models",
    "TemplateStat": "models",
    "TraceSummary": "models",
    "count_tokens": "render",
    "render_digest": "render",
    "LogTemplateMiner": "templates",
    "mine_templates": "templates",
}

if TYPE_CHECKING:
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


__getattr__ = lazy_exports(__name__, _EXPORTS)


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
