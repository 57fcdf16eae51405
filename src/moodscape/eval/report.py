"""Run reports as a self-contained HTML page and a Markdown file, built from typed blocks.

A report is a title plus a list of :class:`Section` objects; each section holds blocks that know how
to render themselves both ways:

* :class:`Text` - a paragraph (escaped);
* :class:`Bullets` - a bullet list (escaped);
* :class:`Table` - rows of dicts, columns picked and titled, values formatted (see :func:`format_value`);
* :class:`Image` - a PNG: embedded as a base64 data URI in HTML, referenced by relative path in Markdown;
* :class:`Audio` - a sound file: an embedded player in HTML, a relative link in Markdown;
* :class:`Raw` - pre-rendered HTML and Markdown, inserted as given (the only unescaped block).

Later stages (GAN quality, distillation, export) build their own sections with these blocks and pass
them to :func:`write_report`, alone or after the evaluation sections. ``report.html`` uses inline CSS
and data URIs only: it opens from disk with no network.

Example:
    >>> write_report("runs/x", title="Teacher", sections=[
    ...     Section("Summary", [Text("Trained 30 epochs."), Table([{"split": "test", "songs": 271}])]),
    ...     Section("Plots", [Image("runs/x/plots/scatter.png", "True vs predicted")]),
    ... ])
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_text

__all__ = [
    "Block",
    "Audio",
    "Bullets",
    "Image",
    "Raw",
    "Section",
    "Table",
    "Text",
    "format_value",
    "render_html",
    "render_markdown",
    "write_report",
]

MISSING = "n/a"


def format_value(value: Any, *, digits: int = 3) -> str:
    """Human-readable text of a table cell.

    None and NaN -> "n/a"; bool -> "yes"/"no"; ints as is; floats with ``digits`` decimals;
    a pair of numbers (an interval) -> "[low, high]"; other sequences joined with ", ";
    anything else via ``str``.
    """
    if value is None:
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return MISSING
        return f"{v:.{digits}f}"
    if isinstance(value, (tuple, list, np.ndarray)):
        items = [format_value(v, digits=digits) for v in value]
        if len(items) == 2 and all(isinstance(v, (int, float, np.number)) or v is None for v in value):
            return f"[{items[0]}, {items[1]}]"
        return ", ".join(items)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {format_value(v, digits=digits)}" for k, v in value.items())
    return str(value)


# Characters escaped everywhere; "_" only where it could start or end emphasis (not between letters or
# digits, which GitHub-flavoured Markdown leaves alone); "]" only before "(" or "[", where it could close a link.
_MD_SPECIAL = re.compile(r"([\\`*<>|]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|\](?=[(\[])|^#)", re.MULTILINE)


def _md(text: str) -> str:
    """Escape Markdown syntax so that text shows literally (and cannot form links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _md_cell(text: str) -> str:
    return _md(text).replace("\n", " ")


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text."""

    text: str

    def html(self, out_dir: Path) -> str:
        return f"<p>{html.escape(self.text)}</p>"

    def markdown(self, out_dir: Path) -> str:
        return _md(self.text)


@dataclass(frozen=True)
class Bullets:
    """A bullet list of plain-text items."""

    items: Sequence[str]

    def html(self, out_dir: Path) -> str:
        lis = "".join(f"<li>{html.escape(str(item))}</li>" for item in self.items)
        return f"<ul>{lis}</ul>"

    def markdown(self, out_dir: Path) -> str:
        return "\n".join(f"- {_md(str(item))}" for item in self.items)


@dataclass(frozen=True)
class Table:
    """A table from a list of dicts.

    Attributes:
        rows: one dict per row.
        columns: the keys to show, in order, each a key or a ``(key, header)`` pair; default: the
            keys of the rows in order of first appearance, headed by the key itself.
        caption: shown above the table.
        digits: decimals for floats (see :func:`format_value`); per-column overrides in ``formats``.
        formats: ``{key: callable(value) -> str}`` for columns that need their own formatting.
    """

    rows: Sequence[Mapping[str, Any]]
    columns: Sequence[str | tuple[str, str]] | None = None
    caption: str = ""
    digits: int = 3
    formats: Mapping[str, Any] = field(default_factory=dict)

    def _columns(self) -> list[tuple[str, str]]:
        if self.columns is None:
            keys: dict[str, None] = {}
            for row in self.rows:
                keys.update(dict.fromkeys(row))
            return [(k, k) for k in keys]
        return [(c, c) if isinstance(c, str) else (c[0], c[1]) for c in self.columns]

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        cols = self._columns()
        body = []
        for row in self.rows:
            cells = []
            for key, _ in cols:
                value = row.get(key)
                fmt = self.formats.get(key)
                cells.append(fmt(value) if fmt is not None else format_value(value, digits=self.digits))
            body.append(cells)
        return [header for _, header in cols], body

    def html(self, out_dir: Path) -> str:
        headers, body = self._cells()
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>" for cells in body)
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    def markdown(self, out_dir: Path) -> str:
        headers, body = self._cells()
        if not headers:
            return f"*{_md(self.caption)}* (empty)" if self.caption else "(empty table)"
        lines = [f"*{_md(self.caption)}*", ""] if self.caption else []
        lines.append("| " + " | ".join(_md_cell(h) for h in headers) + " |")
        lines.append("|" + "|".join(" --- " for _ in headers) + "|")
        lines.extend("| " + " | ".join(_md_cell(c) for c in cells) + " |" for cells in body)
        return "\n".join(lines)


def _embedded(path: Path, what: str, kind: str) -> str:
    """``data:`` URI of a file, so the page stays self-contained; a missing file is named."""
    if not path.is_file():
        raise FileNotFoundError(f"report {what} not found: {path}")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _relative(path: str | Path, out_dir: Path) -> str:
    """``path`` as a Markdown link target from ``out_dir`` (spaces escaped)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(out_dir).resolve())).as_posix().replace(" ", "%20")


@dataclass(frozen=True)
class Image:
    """A PNG file; embedded in HTML, linked by relative path in Markdown."""

    path: str | Path
    caption: str = ""

    def html(self, out_dir: Path) -> str:
        path = Path(self.path)
        src = _embedded(path, "image", "image/png")
        alt = html.escape(self.caption or path.stem)
        caption = f"<figcaption>{html.escape(self.caption)}</figcaption>" if self.caption else ""
        return f'<figure><img alt="{alt}" src="{src}">{caption}</figure>'

    def markdown(self, out_dir: Path) -> str:
        alt = (self.caption or Path(self.path).stem).replace("]", "").replace("[", "")
        target = _relative(self.path, out_dir).replace(")", "%29").replace("(", "%28")
        return f"![{alt}]({target})" + (f"\n\n*{_md(self.caption)}*" if self.caption else "")


@dataclass(frozen=True)
class Raw:
    """Pre-rendered content for both formats, inserted unescaped (keep it free of external links)."""

    html_text: str = ""
    markdown_text: str = ""

    def html(self, out_dir: Path) -> str:
        return self.html_text

    def markdown(self, out_dir: Path) -> str:
        return self.markdown_text


_AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".ogg": "audio/ogg"}


@dataclass(frozen=True)
class Audio:
    """An audio file: an embedded player in HTML (data URI, so the page stays self-contained), a link in Markdown."""

    path: str | Path
    caption: str = ""

    def html(self, out_dir: Path) -> str:
        path = Path(self.path)
        src = _embedded(path, "audio", _AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"))
        caption = f"<figcaption>{html.escape(self.caption or path.name)}</figcaption>"
        return f'<figure><audio controls preload="none" src="{src}"></audio>{caption}</figure>'

    def markdown(self, out_dir: Path) -> str:
        return f"[{_md(self.caption or Path(self.path).name)}]({_relative(self.path, out_dir)})"


Block = Text | Bullets | Table | Image | Raw | Audio


@dataclass(frozen=True)
class Section:
    """A titled part of a report: a ``<h2>`` / ``##`` heading then its blocks in order."""

    title: str
    blocks: Sequence[Block] = ()


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; padding-bottom: .15em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
caption { text-align: left; font-weight: 600; padding-bottom: .3em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
tbody tr:nth-child(even) { background: #fafafa; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9em; }
.subtitle { color: #555; }
""".strip()


def render_html(title: str, sections: Sequence[Section], *, out_dir: str | Path, subtitle: str = "") -> str:
    """The whole report as one HTML document (inline CSS, images as data URIs)."""
    out = Path(out_dir)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="subtitle">{html.escape(subtitle)}</p>')
    for section in sections:
        parts.append(f"<section>\n<h2>{html.escape(section.title)}</h2>")
        parts.extend(block.html(out) for block in section.blocks)
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def render_markdown(title: str, sections: Sequence[Section], *, out_dir: str | Path, subtitle: str = "") -> str:
    """The whole report as Markdown; images are referenced relative to ``out_dir``."""
    out = Path(out_dir)
    parts = [f"# {_md(title)}"]
    if subtitle:
        parts.append(_md(subtitle))
    for section in sections:
        parts.append(f"## {_md(section.title)}")
        parts.extend(block.markdown(out) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


def write_report(
    out_dir: str | Path,
    *,
    title: str,
    sections: Sequence[Section],
    subtitle: str = "",
    basename: str = "report",
) -> tuple[Path, Path]:
    """Write ``<basename>.html`` (self-contained) and ``<basename>.md`` into ``out_dir``.

    Args:
        out_dir: the run folder (created if needed); Markdown image links are relative to it.
        title: the page heading.
        sections: in order; see the module docstring for the blocks.
        subtitle: an optional line under the title.
        basename: file name without extension.

    Returns:
        ``(html_path, md_path)``.

    Raises:
        FileNotFoundError: an :class:`Image` block names a missing file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out / f"{basename}.html", out / f"{basename}.md"
    write_text(html_path, render_html(title, sections, out_dir=out, subtitle=subtitle))
    write_text(md_path, render_markdown(title, sections, out_dir=out, subtitle=subtitle))
    return html_path, md_path
