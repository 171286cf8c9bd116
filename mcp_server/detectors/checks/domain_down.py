"""Domain down: a public domain of a Dokploy app does not answer, answers with an error (5xx, or
Traefik's 404 for "no router"), is very slow, or its TLS certificate expires soon or is untrusted.

The domains come from `DetectorContext.domains` (built from Dokploy's domain.byComposeId /
byApplicationId elsewhere). "Down" needs `domain_failures_before_signal` failed checks in a row so
one dropped packet is not an incident; certificate problems are reported at once.
"""

from __future__ import annotations

from typing import Any

import anyio

from ..base import Detector, DetectorContext, Findings, Severity, Signal, Target
from ..http_probe import HttpResult, TlsResult, probe_http, probe_tls
from ..inputs import DomainSpec, resolve_provider
from ..settings import DetectorSettings


class DomainDownDetector(Detector):
    name = "domain_down"
    runbook = "domain-down"
    description = "a public domain is unreachable, returns errors, is slow, or has a bad TLS certificate"

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        self._failures: dict[str, int] = {}

    def poll_interval_s(self) -> float | None:
        return self.settings.domain_interval_s

    async def poll(self, ctx: DetectorContext) -> Findings:
        specs: list[DomainSpec] = await resolve_provider(ctx.domains)
        findings = Findings(complete=True)
        limiter = anyio.CapacityLimiter(self.settings.concurrency)

        async def check(spec: DomainSpec) -> None:
            async with limiter:
                http = await probe_http(spec, self.settings.domain_timeout_s)
                tls = (
                    await probe_tls(spec, self.settings.domain_timeout_s, self.settings.tls_ca_file)
                    if spec.https
                    else None
                )
            signal = self._judge(ctx, spec, http, tls)
            if signal is not None:
                findings.firing.append(signal)

        async with anyio.create_task_group() as tg:
            for spec in specs:
                tg.start_soon(check, spec)
        known = {self._key(s) for s in specs}
        for key in set(self._failures) - known:
            self._failures.pop(key, None)
        return findings

    @staticmethod
    def _key(spec: DomainSpec) -> str:
        return f"{spec.https}|{spec.label}|{spec.connect_to}"

    def _is_down(self, http: HttpResult) -> bool:
        if http.error is not None or http.status_code is None:
            return True
        return http.status_code >= 500 or http.status_code in self.settings.domain_down_statuses

    def _judge(
        self, ctx: DetectorContext, spec: DomainSpec, http: HttpResult, tls: TlsResult | None
    ) -> Signal | None:
        s = self.settings
        key = self._key(spec)
        failures = self._failures[key] = self._failures.get(key, 0) + 1 if self._is_down(http) else 0
        problems: list[tuple[Severity, str, str]] = []  # (severity, runbook, phrase)
        if failures >= s.domain_failures_before_signal:
            what = (
                f"HTTP {http.status_code}" if http.status_code is not None else f"unreachable: {http.error}"
            )
            problems.append((Severity.critical, "domain-down", f"down ({what})"))
        elif http.latency_ms is not None and http.latency_ms > s.domain_slow_ms and not failures:
            problems.append((Severity.warning, "domain-slow", f"slow (answered in {http.latency_ms:.0f} ms)"))
        if tls is not None and tls.days_left is not None:
            if tls.days_left < 0:
                problems.append((Severity.critical, "tls-certificate", "TLS certificate expired"))
            elif tls.days_left <= s.tls_critical_days:
                problems.append(
                    (
                        Severity.critical,
                        "tls-certificate",
                        f"TLS certificate expires in {tls.days_left:.1f} days",
                    )
                )
            elif tls.days_left <= s.tls_warning_days:
                problems.append(
                    (
                        Severity.warning,
                        "tls-certificate",
                        f"TLS certificate expires in {tls.days_left:.1f} days",
                    )
                )
            if tls.trusted is False and s.tls_require_trusted:
                problems.append(
                    (Severity.warning, "tls-certificate", f"TLS certificate not trusted ({tls.trust_error})")
                )
        if not problems:
            return None
        problems.sort(key=lambda p: -p[0].rank)
        severity, runbook, _ = problems[0]
        target = Target.for_domain(
            ctx.host_name, spec.label, app_name=spec.app_name, dokploy_id=spec.dokploy_id
        )
        routed = f" (routes to {spec.expected_target})" if spec.expected_target else ""
        evidence: dict[str, Any] = {
            "url": spec.url,
            "expected_target": spec.expected_target,
            "http": http.model_dump(mode="json"),
            "consecutive_failures": failures,
            "problems": [p[2] for p in problems],
        }
        if tls is not None:
            evidence["tls"] = tls.model_dump(mode="json")
        return self.signal(
            ctx,
            target,
            severity,
            f"domain {spec.label}{routed}: " + "; ".join(p[2] for p in problems),
            evidence,
            runbook=runbook,
        )
