"""Token estimates for what a request sends, and deterministic embeddings.

Counts use o200k (`bpe-openai`, offline): gpt-oss's tokenizer is o200k_harmony, o200k plus the
harmony control tokens, so these are close to what Ollama reports, not exact. Embeddings are a
hashed bag of words: the same text always gives the same vector, texts sharing words are near.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# harmony frames every message as <|start|>role<|channel|>…<|message|>…<|end|>: about 4 tokens
MESSAGE_OVERHEAD = 4
# the system message gpt-oss's template adds (identity, knowledge cutoff, date, reasoning level)
SYSTEM_PREAMBLE = 32
_WORD = re.compile(r"[a-z0-9]+")


@functools.cache
def _encoding() -> Any:
    with warnings.catch_warnings():
        # bpe_openai loads its vocabularies at import with a deprecated importlib.resources call
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")


def warm_up() -> None:
    """Load the tokenizer in a background thread (about 2 s), so the first request does not wait."""
    if _encoding.cache_info().currsize == 0:
        threading.Thread(target=_encoding, name="o200k-load", daemon=True).start()


def count_tokens(text: str) -> int:
    """o200k tokens in `text`."""
    return len(_encoding().encode(text)) if text else 0


@dataclass(frozen=True)
class PromptEstimate:
    """Estimated prompt size: messages (with framing), tool definitions, and their sum."""

    message_tokens: int
    tool_tokens: int

    @property
    def total(self) -> int:
        return SYSTEM_PREAMBLE + self.message_tokens + self.tool_tokens


def estimate_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]]
) -> PromptEstimate:
    """Tokens a chat request puts in the model's context (thinking of earlier turns included, as
    harmony keeps the reasoning that led to a tool call)."""
    message_tokens = 0
    for message in messages:
        message_tokens += MESSAGE_OVERHEAD + count_tokens(str(message.get("content") or ""))
        message_tokens += count_tokens(str(message.get("thinking") or ""))
        for call in message.get("tool_calls") or []:
            message_tokens += count_tokens(json.dumps(call.get("function", call), separators=(",", ":")))
    # Ollama renders tool definitions into the prompt; their compact JSON is a fair proxy
    tool_tokens = sum(count_tokens(json.dumps(tool, separators=(",", ":"))) for tool in tools)
    return PromptEstimate(message_tokens=message_tokens, tool_tokens=tool_tokens)


def embed_text(text: str, dimension: int) -> list[float]:
    """A unit vector of `dimension` floats: the sum of one fixed ±1 direction per lower-cased word.

    Dense directions (not one slot per word) keep vectors cut to fewer `dimensions` meaningful.
    Texts sharing words point the same way; unrelated texts are near orthogonal.
    """
    vector = [0.0] * dimension
    for word in _WORD.findall(text.lower()):
        for i, sign in enumerate(_word_direction(word, dimension)):
            vector[i] += sign
    return normalize(vector)


@functools.lru_cache(maxsize=65_536)
def _word_direction(word: str, dimension: int) -> tuple[float, ...]:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
    bits = random.Random(seed).getrandbits(dimension)
    return tuple(1.0 if bits >> i & 1 else -1.0 for i in range(dimension))


def normalize(vector: list[float]) -> list[float]:
    """Scaled to length 1 (Ollama normalizes every embedding); all zeros stay zeros."""
    norm = math.sqrt(sum(x * x for x in vector))
    return [round(x / norm, 8) for x in vector] if norm else vector
