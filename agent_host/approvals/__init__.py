"""Approvals: the one interface through which a human approves or denies a planned fix — the
command line (`infraguardian-agent approvals | approve ID | deny ID`), Telegram's buttons and the
dashboard (answering.py: an answer counts only for the plan that was shown)."""

from .book import ApprovalBook, ApprovalError, ApprovalRequest

__all__ = ["ApprovalBook", "ApprovalError", "ApprovalRequest"]
