"""Untrusted names and HTML made safe to store and show.

Attachment filenames come from the sender: ``../../.bashrc``, ``C:\\x``, ``CON``,
control characters and RTL overrides are all legal in a MIME header. The stored
name is display-only (files are stored under their sha256, see ``attachments``),
but it still reaches the TUI and any export, so it is cleaned here once.

HTML bodies go through nh3 (ammonia): scripts, event handlers, ``javascript:``
links and remote-loading tags are removed by a maintained sanitizer rather than
by hand-written regexes.

nh3's cost grows quadratically with nesting depth (64k unclosed ``<div>``, 300 KB,
took 22.8 s), so ``clean_html`` puts cheap, linear guards in front of it (size, tag
count, depth) and a time limit around it (nh3 runs on a small pool of its own; it
releases the GIL). Past a guard the HTML is not kept: the caller stores the text and
says why (``CleanHtml.refused``). Callers on an event loop run the whole parse in a
thread (``engine.crm.ingest.parse_message_off_loop``).
"""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

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


MAX_HTML = 2 * 1024 * 1024  # characters (the text kept per part is cut there anyway)
MAX_HTML_TAGS = 50_000
MAX_HTML_DEPTH = 512  # nh3 takes ~5 ms at this depth, ~0.3 s at 8k, ~23 s at 64k
SANITIZE_SECONDS = 5.0
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)")
# No depth from these: void elements, and elements whose end tag may be left out (a
# second <p> or <li> closes the first, so unclosed ones do not nest)
_FLAT = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option",
    "optgroup", "thead", "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp",
    "html", "head", "body",
})
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sanitize")


@dataclass(frozen=True)
class CleanHtml:
    """Sanitized HTML, or ``""`` with ``refused`` saying why it was not kept."""

    html: str
    refused: str | None = None


def html_guard(html: str) -> str | None:
    """Why ``html`` must not go to nh3 (None: it may). One linear pass, no parsing."""
    if len(html) > MAX_HTML:
        return f"HTML of {len(html)} characters (limit {MAX_HTML})"
    depth = 0
    for tags, m in enumerate(_TAG.finditer(html), start=1):
        if tags > MAX_HTML_TAGS:
            return f"HTML with more than {MAX_HTML_TAGS} tags"
        if m.group(2).lower() in _FLAT:
            continue
        if m.group(1):
            depth = max(0, depth - 1)
            continue
        depth += 1
        if depth > MAX_HTML_DEPTH:
            return f"HTML nested more than {MAX_HTML_DEPTH} elements deep"
    return None


def clean_html(html: str, *, seconds: float | None = None) -> CleanHtml:
    """``safe_html`` behind the guards and a time limit (blocking: call it off the loop).

    On a timeout the sanitizer thread runs on to its end (it cannot be stopped), but the
    guards bound how long that can be; the caller does not wait for it.
    """
    why = html_guard(html)
    if why is not None:
        return CleanHtml("", why)
    limit = SANITIZE_SECONDS if seconds is None else seconds
    job = _POOL.submit(safe_html, html)
    try:
        return CleanHtml(job.result(timeout=limit))
    except FutureTimeout:
        return CleanHtml("", f"sanitizing the HTML took longer than {limit:g} s")


_ANY_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"[ \t\r\f\v]+")


def html_to_text(html: str, limit: int = MAX_HTML) -> str:
    """A rough text rendition of untrusted HTML (tags dropped, entities decoded), for a
    message whose HTML was not kept; linear, never parses."""
    text = htmllib.unescape(_ANY_TAG.sub(" ", html[:limit]))
    return "\n".join(line.strip() for line in _SPACE.sub(" ", text).splitlines()
                     if line.strip())


__all__ = ["HTML_TAGS", "MAX_FILENAME", "CleanHtml", "clean_html", "html_guard",
           "html_to_text", "safe_filename", "safe_html"]
