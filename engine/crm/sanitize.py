"""Untrusted names and HTML made safe to store and show.

Attachment filenames come from the sender: ``../../.bashrc``, ``C:\\x``, ``CON``,
control characters and RTL overrides are all legal in a MIME header. The stored
name is display-only (files are stored under their sha256, see ``attachments``),
but it still reaches the TUI and any export, so it is cleaned here once.

HTML bodies go through nh3 (ammonia): scripts, event handlers, ``javascript:``
links and remote-loading tags are removed by a maintained sanitizer rather than
by hand-written regexes.
"""

from __future__ import annotations

import re
import unicodedata

import nh3

MAX_FILENAME = 120
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{i}" for port in ("COM", "LPT") for i in (*"0123456789", "¹", "²", "³")}
)  # Windows reads the superscript digits as 1-3: COM¹ is a device too
_UNSAFE = re.compile(r'[\\/:*?"<>|]')

# Tags kept: text structure and tables. No img (remote images are tracking pixels),
# no style (CSS can exfiltrate), no forms.
HTML_TAGS = frozenset({
    "a", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "hr", "i",
    "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul",
})


def _is_control(ch: str) -> bool:
    # Cc controls, Cf format chars (RTL override, zero-width), line/paragraph separators.
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def safe_filename(name: object, fallback: str = "attachment") -> str:
    """A display filename with no path, no control characters and no device name."""
    text = name if isinstance(name, str) else ""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if _is_control(ch) else ch for ch in text)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]  # drop any directory part
    text = _UNSAFE.sub("_", text).strip().strip(".").strip()
    if not text:
        text = fallback
    stem, dot, ext = text.partition(".")
    if stem.rstrip().upper() in _WINDOWS_DEVICES:
        text = f"_{text}"
    if len(text) > MAX_FILENAME:
        base, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = base[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_FILENAME]
    return text


def safe_html(html: str) -> str:
    """Sanitized HTML: allow-listed tags, http(s)/mailto links only, rel=noopener."""
    return nh3.clean(
        html,
        tags=set(HTML_TAGS),
        attributes={"a": {"href", "title"}, "td": {"colspan", "rowspan"},
                    "th": {"colspan", "rowspan"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


__all__ = ["HTML_TAGS", "MAX_FILENAME", "safe_filename", "safe_html"]
