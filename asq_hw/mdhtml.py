"""Markdown to one self-contained HTML page, for the reports asq-hw writes.

Only the subset the reports use, rendered exactly (no dependency): ATX headings (`#` ..
`######`), paragraphs, `-` / `*` bullet lists, fenced code blocks (```), pipe tables with a
`|---|` separator row (`---:` right-aligns a column), and inline `code`, **bold**, *emphasis*,
[links](url) and images ![alt](path). Everything else is text, HTML-escaped. Images with a
relative path are read from `base` and embedded as data: URIs, so the HTML page is one file
that can be mailed or attached; an image that cannot be read stays a link and is listed in
the returned `missing`.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
         ".jpeg": "image/jpeg", ".gif": "image/gif"}

STYLE = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#1b1f23}
table{border-collapse:collapse;margin:0.8rem 0}th,td{border:1px solid #d0d7de;
padding:0.25rem 0.6rem}th{background:#f6f8fa}td.r,th.r{text-align:right}
code{background:#f6f8fa;padding:0.1rem 0.25rem;border-radius:3px}
pre{background:#f6f8fa;padding:0.7rem;overflow-x:auto}pre code{padding:0}
img{max-width:100%;height:auto}h1,h2,h3{border-bottom:1px solid #eaecef;padding-bottom:0.2rem}"""

_INLINE = re.compile(
    r"`(?P<code>[^`]+)`"
    r"|!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)"
    r"|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<bold>.+?)\*\*"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")


class _Renderer:
    def __init__(self, base: Path | None):
        self.base = base
        self.missing: list[str] = []

    def image(self, alt: str, src: str) -> str:
        url = src
        if self.base is not None and not re.match(r"^[a-z]+:", src):
            path = self.base / src
            mime = _MIME.get(path.suffix.lower())
            try:
                data = path.read_bytes() if mime else None
            except OSError:
                data = None
            if data is None:
                self.missing.append(src)
            else:
                url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
        return f'<img src="{html.escape(url, quote=True)}" alt="{html.escape(alt)}">'

    def inline(self, text: str) -> str:
        out, pos = [], 0
        for m in _INLINE.finditer(text):
            out.append(html.escape(text[pos:m.start()], quote=False))
            if m.group("code") is not None:
                out.append(f"<code>{html.escape(m.group('code'), quote=False)}</code>")
            elif m.group("src") is not None:
                out.append(self.image(m.group("alt"), m.group("src")))
            elif m.group("href") is not None:
                out.append(f'<a href="{html.escape(m.group("href"), quote=True)}">'
                           f"{self.inline(m.group('text'))}</a>")
            elif m.group("bold") is not None:
                out.append(f"<strong>{self.inline(m.group('bold'))}</strong>")
            else:
                out.append(f"<em>{self.inline(m.group('em'))}</em>")
            pos = m.end()
        out.append(html.escape(text[pos:], quote=False))
        return "".join(out)


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    # A backslash-escaped pipe is a literal pipe inside a cell.
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def render_body(markdown: str, base=None) -> tuple[str, list[str]]:
    """(HTML body, missing image paths) of `markdown`; images relative to `base`."""
    r = _Renderer(Path(base) if base is not None else None)
    lines = markdown.splitlines()
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush_para():
        if para:
            out.append(f"<p>{r.inline(' '.join(s.strip() for s in para))}</p>")
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            flush_para()
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(body), quote=False)}"
                       "</code></pre>")
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            flush_para()
            n = len(m.group(1))
            out.append(f"<h{n}>{r.inline(m.group(2))}</h{n}>")
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            flush_para()
            head = _cells(line)
            align = [' class="r"' if c.strip().endswith(":") and not c.strip().startswith(":")
                     else "" for c in _cells(lines[i + 1])]
            align += [""] * max(0, len(head) - len(align))
            rows = ["<tr>" + "".join(f"<th{a}>{r.inline(c)}</th>"
                                     for a, c in zip(align, head, strict=False)) + "</tr>"]
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                cells = _cells(lines[i])
                cls = align + [""] * max(0, len(cells) - len(align))
                rows.append("<tr>" + "".join(f"<td{a}>{r.inline(c)}</td>"
                                             for a, c in zip(cls, cells, strict=False))
                            + "</tr>")
                i += 1
            out.append("<table>\n" + "\n".join(rows) + "\n</table>")
            continue
        if _BULLET.match(line):
            flush_para()
            items = []
            while i < len(lines) and _BULLET.match(lines[i]):
                text = _BULLET.match(lines[i]).group(1)
                i += 1
                # Continuation lines of an item are indented.
                while i < len(lines) and lines[i].startswith("  ") \
                        and not _BULLET.match(lines[i]):
                    text += " " + lines[i].strip()
                    i += 1
                items.append(f"<li>{r.inline(text)}</li>")
            out.append("<ul>\n" + "\n".join(items) + "\n</ul>")
            continue
        if not line.strip():
            flush_para()
        else:
            para.append(line)
        i += 1
    flush_para()
    return "\n".join(out) + "\n", r.missing


def render_page(markdown: str, title: str, base=None) -> tuple[str, list[str]]:
    """(a complete HTML page, missing image paths)."""
    body, missing = render_body(markdown, base)
    page = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}</body>\n</html>\n")
    return page, missing
