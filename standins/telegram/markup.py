"""Message text checked the way the Bot API checks it (its parsers live in TDLib).

`parse_text(text, parse_mode)` gives the text a user sees and its entities (offsets in UTF-16 code
units), or raises BotApiError 400 "Bad Request: can't parse entities: <reason>" with TDLib's wording
(`MessageEntity.cpp`: parse_html, parse_markdown_v2, parse_markdown). Then, as Telegram does,
leading/trailing white space is trimmed, empty text is "message text is empty" and more than 4096
characters is "message is too long". Keyboards are checked in `keyboards`.
"""

from __future__ import annotations

from typing import Any

from .wire import bad_request

MAX_TEXT = 4096
HTML_KINDS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre", "a": "text_link", "tg-emoji": "custom_emoji",
    "blockquote": "blockquote",
}  # fmt: skip
HTML_TAGS = frozenset(HTML_KINDS)  # every other tag is "Unsupported start tag"
SPACES = " \t\r\n\v\0"
MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"


class _ParseError(Exception):
    pass


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte(text: str, index: int) -> int:
    """TDLib reports positions as UTF-8 byte offsets into the text as sent."""
    return len(text[:index].encode("utf-8"))


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """The visible text and its entities, or BotApiError(400) worded like Telegram."""
    mode = (parse_mode or "").strip().lower()
    try:
        if mode == "html":
            visible, entities = _parse_html(text)
        elif mode == "markdownv2":
            visible, entities = _parse_markdown_v2(text)
        elif mode == "markdown":
            visible, entities = _parse_markdown(text)
        elif mode in ("", "none"):
            visible, entities = text, []
        else:
            raise bad_request("unsupported parse_mode")
    except _ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    return _trim(visible, entities)


def check_text(text: str | None, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """`parse_text`, then Telegram's emptiness and length rules for a message text."""
    if text is None or text == "":
        raise bad_request("message text is empty")
    visible, entities = parse_text(text, parse_mode)
    if not visible:
        raise bad_request("message text is empty")
    if len(visible) > MAX_TEXT:
        raise bad_request("message is too long")
    return visible, entities


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Leading and trailing white space goes, as TDLib's fix_formatted_text does; entities shift."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _utf16(text[: len(text) - len(text.lstrip())])
    limit = _utf16(stripped)
    kept = []
    for entity in entities:
        start = max(0, entity["offset"] - shift)
        end = min(limit, entity["offset"] + entity["length"] - shift)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """`&lt;` `&gt;` `&amp;` `&quot;` `&#NN;` `&#xHH;` (';' optional) at `i`; None leaves '&' as is."""
    end = i + 1
    if text[end : end + 1] == "#":
        end += 1
        hexa = text[end : end + 1] == "x"
        end += hexa
        start = end
        digits = "0123456789abcdefABCDEF" if hexa else "0123456789"
        while end < len(text) and text[end] in digits:
            end += 1
        if end == start or end - i >= 10:
            return None
        code = int(text[start:end], 16 if hexa else 10)
        if code == 0 or code >= 0x10FFFF:
            return None
        char = chr(code)
    else:
        while end < len(text) and text[end].isascii() and text[end].isalpha():
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[i + 1 : end])
        if named is None:
            return None
        char = named
    return char, end + 1 if text[end : end + 1] == ";" else end


def _parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, str, int]] = []  # tag, argument, UTF-16 offset where it starts
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.append(char)
            i += 1
            continue
        begin = i
        i += 1
        if text[i : i + 1] != "/":
            while i < n and text[i] not in SPACES and text[i] != ">":
                i += 1
            if i >= n:
                raise _ParseError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in HTML_TAGS:
                raise _ParseError(f'Unsupported start tag "{tag}" at byte offset {_byte(text, begin)}')
            argument, i = _html_attributes(text, i, tag, begin)
            if tag == "span" and argument != "spoiler":
                raise _ParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {_byte(text, begin)}'
                )
            stack.append((tag, argument, _utf16("".join(out))))
            i += 1  # the '>'
            continue
        if not stack:
            raise _ParseError(f"Unexpected end tag at byte offset {_byte(text, begin)}")
        i += 1
        while i < n and text[i] not in SPACES and text[i] != ">":
            i += 1
        end_tag = text[begin + 2 : i].lower()
        while i < n and text[i] in SPACES:
            i += 1
        if i >= n or text[i] != ">":
            raise _ParseError(f"Unclosed end tag at byte offset {_byte(text, begin)}")
        tag, argument, offset = stack.pop()
        if end_tag and end_tag != tag:
            raise _ParseError(
                f'Unmatched end tag at byte offset {_byte(text, begin)}, expected "</{tag}>", found "</{end_tag}>"'
            )
        length = _utf16("".join(out)) - offset
        entity = _html_entity(tag, argument, offset, length)
        if entity["type"] == "pre" and tag == "code" and not (stack and stack[-1][0] == "pre"):
            entity = {
                "type": "code",
                "offset": offset,
                "length": length,
            }  # a language only counts inside <pre>
        last = entities[-1] if entities else {}
        if (
            tag == "pre"
            and last.get("type") == "pre"
            and (last["offset"], last["length"]) == (offset, length)
        ):
            pass  # <pre><code class="language-x">: one pre entity with its language, as TDLib merges them
        elif length > 0:
            entities.append(entity)
        i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _html_attributes(text: str, i: int, tag: str, begin: int) -> tuple[str, int]:
    """Read a start tag's attributes up to its '>'; the one argument Telegram keeps, and where '>' is."""
    n, argument = len(text), ""
    while i < n and text[i] != ">":
        while i < n and text[i] in SPACES:
            i += 1
        if i < n and text[i] == ">":
            break
        name_start = i
        while i < n and text[i] not in SPACES and text[i] not in "=>":
            i += 1
        name = text[name_start:i].lower()
        if not name:
            raise _ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {_byte(text, begin)}')
        while i < n and text[i] in SPACES:
            i += 1
        if tag == "blockquote" and name == "expandable" and (i >= n or text[i] != "="):
            argument = "expandable"
            continue
        if i >= n or text[i] != "=":
            raise _ParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte offset {_byte(text, begin)}'
            )
        i += 1
        while i < n and text[i] in SPACES:
            i += 1
        if i >= n:
            raise _ParseError(f'Unclosed start tag "{tag}" at byte offset {_byte(text, begin)}')
        if text[i] not in "'\"":
            token_start = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            value = text[token_start:i].lower()
            if i < n and text[i] not in SPACES and text[i] != ">":
                raise _ParseError(f"Unexpected end of name token at byte offset {_byte(text, token_start)}")
        else:
            quote, i = text[i], i + 1
            chars: list[str] = []
            while i < n and text[i] != quote:
                decoded = _decode_entity(text, i) if text[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                else:
                    chars.append(text[i])
                    i += 1
            i += 1
            value = "".join(chars)
        if i >= n:
            raise _ParseError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
        if (tag, name) in (("a", "href"), ("tg-emoji", "emoji-id")):
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[3:]
    return argument, i


def _html_entity(tag: str, argument: str, offset: int, length: int) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": HTML_KINDS[tag], "offset": offset, "length": length}
    if tag == "a" and argument:
        entity["url"] = argument
    elif tag == "code" and argument:
        entity.update(type="pre", language=argument)
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = argument
    elif tag == "blockquote" and argument == "expandable":
        entity["type"] = "expandable_blockquote"
    return entity


def _mdv2_closes(kind: str, text: str, i: int) -> bool:
    char, after = text[i], text[i + 1 : i + 3]
    return {
        "bold": char == "*",
        "italic": char == "_" and after[:1] != "_",
        "underline": char == "_" and after[:1] == "_",
        "strikethrough": char == "~",
        "spoiler": char == "|" and after[:1] == "|",
        "code": char == "`",
        "pre": char == "`" and after == "``",
        "text_link": char == "]",
        "custom_emoji": char == "]",
    }[kind]


_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


def _parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, int]] = []  # kind, UTF-16 offset, byte offset of the opening mark
    language = ""  # of the open ``` block
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1][0] in ("code", "pre")
        reserved = "`" if in_code else MDV2_RESERVED
        line_start = i == 0 or text[i - 1] == "\n"
        if char == ">" and line_start and not stack:
            i += 1  # '>' opening a line marks a block quotation: the mark goes, the line stays
            continue
        if char not in reserved:
            out.append(char)
            i += 1
            continue
        if stack and _mdv2_closes(stack[-1][0], text, i):
            kind, offset, _ = stack.pop()
            length = _utf16("".join(out)) - offset
            entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
            i += {"underline": 2, "spoiler": 2, "pre": 3}.get(kind, 1)
            if kind == "pre" and language:
                entity["language"] = language
            if kind in ("text_link", "custom_emoji"):
                if text[i : i + 1] != "(":
                    if kind == "custom_emoji":
                        raise _ParseError("Custom emoji entity must contain a tg://emoji URL")
                    entity["url"] = "".join(out)[-length:] if length else ""
                else:
                    close = text.find(")", i)
                    if close < 0:
                        raise _ParseError(f"Can't find end of a URL at byte offset {_byte(text, i + 1)}")
                    entity["url"] = text[i + 1 : close].replace("\\)", ")").replace("\\\\", "\\")
                    i = close + 1
            if length > 0:
                entities.append(entity)
            continue
        begin = i
        if char == "_" and text[i + 1 : i + 2] == "_":
            kind, i = "underline", i + 2
        elif char == "|" and text[i + 1 : i + 2] == "|":
            kind, i = "spoiler", i + 2
        elif char == "!" and text[i + 1 : i + 2] == "[":
            kind, i = "custom_emoji", i + 2
        elif char == "`" and text[i + 1 : i + 3] == "``":
            kind, i, language = "pre", i + 3, ""
            line_end = text.find("\n", i)
            if (
                line_end >= 0
                and "`" not in text[i:line_end]
                and not any(c in SPACES for c in text[i:line_end])
            ):
                language, i = text[i:line_end], line_end + 1  # the language name line
        elif char in "_*~`[":
            kind, i = (
                {"_": "italic", "*": "bold", "~": "strikethrough", "`": "code", "[": "text_link"}[char],
                i + 1,
            )
        else:
            raise _ParseError(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        stack.append((kind, _utf16("".join(out)), _byte(text, begin)))
    if stack:
        kind, _, byte_offset = stack[-1]
        raise _ParseError(f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {byte_offset}")
    return "".join(out), sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy "Markdown": *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.append(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.append(char)
            i += 1
            continue
        begin, pre = i, text[i : i + 3] == "```"
        closing = "```" if pre else {"[": "]"}.get(char, char)
        i += 3 if pre else 1
        end = text.find(closing, i)
        if end < 0:
            raise _ParseError(f"Can't find end of the entity starting at byte offset {_byte(text, begin)}")
        offset = _utf16("".join(out))
        out.append(text[i:end])
        length = _utf16("".join(out)) - offset
        i = end + len(closing)
        kind = {"_": "italic", "*": "bold", "`": "pre" if pre else "code", "[": "text_link"}[char]
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
        if char == "[" and text[i : i + 1] == "(":
            close = text.find(")", i)
            entity["url"], i = text[i + 1 : close if close >= 0 else n], (close + 1 if close >= 0 else n)
        if length > 0:
            entities.append(entity)
    return "".join(out), entities
