"""Settings of the metric rules (nested in DetectorSettings as `metrics`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MetricSettings(BaseModel):
    """Metric rules from the config file and how compose labels declare them."""

    model_config = ConfigDict(extra="forbid")
