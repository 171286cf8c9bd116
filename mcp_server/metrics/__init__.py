"""Custom metric rules: numbers InfraGuardian reads itself (a Prometheus metric, a JSON field, a
URL's response time) and the thresholds that turn them into signals (see rules.py)."""
