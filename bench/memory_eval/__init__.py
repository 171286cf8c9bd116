"""Labelled incident texts and the retrieval scoring of incident memory (bench/memory_recall.py)."""
