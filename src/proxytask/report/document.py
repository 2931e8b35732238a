"""A report as a list of blocks, rendered to Markdown and to self-contained HTML (images inlined)."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    """A list of sentences (the verdicts)."""

    items: list[str]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    path: Path
    caption: str


Block = Heading | Paragraph | Bullets | Table | Figure


def to_markdown(blocks: list[Block], folder: Path) -> str:
    """Markdown with figures linked relative to ``folder``."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Bullets):
            lines += [f"- {item}" for item in block.items] + [""]
        elif isinstance(block, Table):
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += ["| " + " | ".join(row) + " |" for row in block.rows]
            lines.append("")
        else:
            lines += [f"![{block.caption}]({block.path.relative_to(folder)})", "", f"*{block.caption}*", ""]
    return "\n".join(lines)


NUMBER = re.compile(r"^[+-]?\d[\d.,]*%?( [\[(±/].*)?$")


def _cell(text: str) -> str:
    """A table cell, right-aligned where it holds a number (with its interval or spread)."""
    return f"<td class='number'>{html.escape(text)}</td>" if NUMBER.match(text) else f"<td>{html.escape(text)}</td>"


def to_html(blocks: list[Block], title: str) -> str:
    """One HTML file holding everything, figures as base64 PNG."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:left;vertical-align:top}th{background:#f0f0f0}td.number{text-align:right}"
             "img{max-width:100%}figcaption{font-style:italic;color:#555}.wide{overflow-x:auto}"
             "li{margin:0.3em 0}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p>{html.escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            parts.append("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
            parts.append(f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")
        else:
            data = base64.b64encode(block.path.read_bytes()).decode()
            parts.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(block.caption)}'>"
                         f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
