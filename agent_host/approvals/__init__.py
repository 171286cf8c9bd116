"""Approvals: the one interface through which a human approves or denies a planned fix — the
command line today (`infraguardian-agent approvals | approve ID | deny ID`), Telegram next."""

from .book import ApprovalBook, ApprovalError, ApprovalRequest

__all__ = ["ApprovalBook", "ApprovalError", "ApprovalRequest"]
