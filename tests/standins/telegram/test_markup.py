"""Telegram's text parsers as the stand-in applies them (TDLib's wording and UTF-16 offsets)."""

from __future__ import annotations

from typing import Any

import pytest

from standins.telegram.markup import check_text, parse_text
from standins.telegram.wire import BotApiError


@pytest.mark.parametrize(
    ("text", "mode", "visible", "entities"),
    [
        ('<pre><code class="language-yaml">mem: 2G</code></pre>', "HTML", "mem: 2G", [("pre", 0, 7)]),
        ('<a href="https://x.org/a?b=1&amp;c=2">docs</a>', "HTML", "docs", [("text_link", 0, 4)]),
        (
            '<tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span>',
            "HTML",
            "s t",
            [("spoiler", 0, 1), ("spoiler", 2, 1)],
        ),
        ("a &unknown; &#65; &#x42; b", "HTML", "a &unknown; A B b", []),
        ("*bold _italic bold_*", "MarkdownV2", "bold italic bold", [("bold", 0, 16), ("italic", 5, 11)]),
        (r"\_\*\[\]\(\)\~\`\>\#\+\-\=\|\{\}\.\!", "MarkdownV2", "_*[]()~`>#+-=|{}.!", []),
        ("```python\nprint(1)\n```", "MarkdownV2", "print(1)", [("pre", 0, 8, "python")]),
        ("```\nplain\n```", "MarkdownV2", "plain", [("pre", 0, 5, None)]),
        ("*b* [link](https://x.org)", "Markdown", "b link", [("bold", 0, 1), ("text_link", 2, 4)]),
        ("<b>x</b>", None, "<b>x</b>", []),
    ],
)
def test_parsed_text_and_entities(text: str, mode: str | None, visible: str, entities: list[Any]) -> None:
    parsed_text, parsed = parse_text(text, mode)
    assert parsed_text == visible
    found = [(e["type"], e["offset"], e["length"], e.get("language")) for e in parsed]
    assert [f[: len(want)] for f, want in zip(found, entities, strict=True)] == entities


@pytest.mark.parametrize(
    ("text", "mode", "reason"),
    [
        ('<span class="x">a</span>', "HTML", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("é<b", "HTML", "Unclosed start tag at byte offset 2"),
        (
            "<a href>x</a>",
            "HTML",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("x</b>", "HTML", "Unexpected end tag at byte offset 1"),
        ("__under", "MarkdownV2", "Can't find end of Underline entity at byte offset 0"),
        ("cpu 95%!", "MarkdownV2", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("*b", "Markdown", "Can't find end of the entity starting at byte offset 0"),
    ],
)
def test_parse_errors(text: str, mode: str, reason: str) -> None:
    with pytest.raises(BotApiError) as caught:
        parse_text(text, mode)
    assert (caught.value.code, caught.value.description) == (
        400,
        f"Bad Request: can't parse entities: {reason}",
    )


def test_length_counts_visible_characters() -> None:
    assert check_text("é" * 4096, None)[0] == "é" * 4096
    with pytest.raises(BotApiError, match="message is too long"):
        check_text("é" * 4097, None)
