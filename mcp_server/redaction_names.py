"""Which names hold secrets: the one test every redaction rule uses for a key, variable or flag name.

`is_secret_name("DB_PASSWORD")` is True, `is_secret_name("tokenizer")` is False. A name is secret
when it contains a secret word (password, secret, token, credential, cookie, signing_key …) or has
a secret word as one of its parts (`APP_KEY`, `DB_PASS`, `x-auth-token`, `sig`), unless its last
part says it is only about a secret (`PASSWORD_FILE`, `key_id`, `token_type`, `password_length`).
Hyphenated names such as `shop-passwd-db-1` or `secret-santa` are names of things (containers,
services, headers): only their last part counts, so `x-api-key` is secret and `passwd-api` is not.
"""

from __future__ import annotations

import re
from functools import lru_cache

MASK = "[REDACTED]"

# Words that make a name secret wherever they occur in it.
_SECRET_WORD = re.compile(
    r"(?i)pass(?:word|wd|phrase)|secret|token(?!i[sz])|credential|cookie|requirepass|masterauth|"
    r"(?:basic|digest)auth|jwt|bearer|hmac|apikey|sessionid|connection[_-]?string|"
    r"(?:api|access|private|signing|encryption|master|app|auth|license|client|shared|account|ssh|gpg|"
    r"pgp|session|crypt|cipher|storage|subscription|webhook|deploy|consumer|aes|csrf|xsrf|recaptcha)[_-]?key|"
    r"(?:database|db|redis|mongo(?:db)?|amqp|rabbitmq|broker|webhook|sentry)[_-]?(?:url|uri|dsn)|dsn"
)
# Words that make a name secret when they are one of its parts (`DB_PASS`, `userPass`, `sig`).
# `KEY` counts in upper-case (environment) names only: `APP_KEY` is a secret, while `target_key`,
# `sort_key` or `routingKey` name an identifier; the secret kinds of key are `_SECRET_WORD`s.
_SEGMENT_WORDS = "pass|pwd|pw|auth|sig|sid|salt|session|otp|signature|authorization"
_SECRET_SEGMENT = re.compile(
    rf"(?i:(?:^|[_.-])(?:{_SEGMENT_WORDS})(?:$|[_.-]))"
    r"|(?<=[a-z0-9])(?:Pass|Pwd|Auth|Sig|Salt|Session|Signature)(?=$|[A-Z0-9_.-])"
    r"|^(?:[A-Z0-9]+[_.-])*KEYS?(?:[_.-][A-Z0-9]+)*$|^(?i:keys?)$"
)
# `DBPASS`, `rootpwd`: glued to the end of the name (but not `bypass`, `compass`).
_SECRET_SUFFIX = re.compile(r"(?i)(?<!by)(?<!com)(?<!sur)(?<!tres)pass$|pwd$")
_SECRET_EXACT = re.compile(r"(?i)^(?:pin|sas|pw)$")
# A last part that makes the name about a secret, not the secret itself.
_META_WORDS = (
    "name|names|id|ids|type|types|file|files|path|dir|length|len|size|count|min|max|policy|page|"
    "header|field|param|prefix|hint|format|mode|version|algorithm|algo|expiry|expires|expiration|"
    "ttl|timeout|age|at|enabled|required|rotation|label|location|env|var|usage|limit"
)
_META_TAIL = re.compile(
    rf"(?i:[_.-](?:{_META_WORDS})$)"
    r"|(?<=[a-z0-9])(?:Name|Names|Id|Ids|Type|File|Path|Dir|Length|Size|Count|Policy|Page|Header|"
    r"Field|Prefix|Format|Mode|Version|Expiry|Expires|Ttl|Timeout|Enabled|Required|Env|Var|Usage|"
    r"Limit)$"
)
# Token counts in LLM and tokenizer logs (`max_tokens=2000`), not tokens.
_TOKEN_COUNT = re.compile(
    r"(?i)^(?:max|min|total|num|n|prompt|completion|input|output|used|remaining|cached)[_-]?tokens$"
)
# session ids are secrets although `_id` names are usually not
_SESSION_ID = re.compile(r"(?i)sess(?:ion)?[_.-]?id$")
# `shop-passwd-db-1`, `secret-santa`, `X-Api-Key`: a thing's name; only its last part counts.
_HYPHEN_NAME = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+$")


@lru_cache(maxsize=8192)
def is_secret_name(name: str) -> bool:
    """True when a value stored under `name` (a key, variable, header or flag) is a secret."""
    name = name.strip("\"'\\ -")
    if _SESSION_ID.search(name):
        return True
    if not name or _META_TAIL.search(name) or _TOKEN_COUNT.match(name):
        return False
    if _HYPHEN_NAME.match(name):
        name = name.rsplit("-", 1)[1]
    return bool(
        _SECRET_WORD.search(name)
        or _SECRET_SEGMENT.search(name)
        or _SECRET_SUFFIX.search(name)
        or _SECRET_EXACT.match(name)
    )


def is_thing_name(name: str) -> bool:
    """`shop-passwd`, `passwd-api`: a hyphenated name, as containers, services and volumes have.
    A mapping under such a key describes a thing; it is walked, not masked whole."""
    return _HYPHEN_NAME.match(name) is not None
