"""Reading a report back as a reader sees it: parsed HTML (as written, or the DOM a browser dumped), rendered Markdown."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from markdown_it import MarkdownIt
from PIL import Image

from typicality.results import Estimate

DATA_URI_PREFIX = "data:image/png;base64,"


@dataclass
class Page:
    title: str = ""
    elements: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)  # (tag, attributes) in order
    text: str = ""  # all text content, entities decoded

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def images(self) -> list[Image.Image]:
        """Every <img>, decoded from its data URI (fails the test if one is not an embedded PNG)."""
        decoded = []
        for attrs in self.tags("img"):
            src = attrs.get("src") or ""
            assert src.startswith(DATA_URI_PREFIX), f"image not embedded as a PNG data URI: {src[:80]}"
            image = Image.open(io.BytesIO(base64.b64decode(src[len(DATA_URI_PREFIX):], validate=True)))
            image.load()
            decoded.append(image)
        return decoded


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_title = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.page.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.page.title += data
        self._text.append(data)

    def close(self):
        super().close()
        self.page.text = "".join(self._text)


def parse_page(html: str) -> Page:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.page


NOT_A_NUMBER = re.compile(r"\b(?:nan|NaN|NAN|inf|Inf|Infinity|None|null)\b")


def markdown_to_html(text: str) -> str:
    """CommonMark with raw HTML allowed (as GitHub and most viewers do) plus GFM tables."""
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


def visible_text(path: Path) -> str:
    """What a reader sees: the HTML's text, or the Markdown's text once rendered."""
    text = path.read_text(encoding="utf-8")
    return parse_page(markdown_to_html(text) if path.suffix == ".md" else text).text


def report_text_without_dataset_text(text: str) -> str:
    """The report minus the example texts (code blocks / <pre>), for checks on what the report itself writes."""
    text = re.sub(r"(`{3,})text\n.*?\n\1", "", text, flags=re.S)
    return re.sub(r"<pre>.*?</pre>", "", text, flags=re.S)


def coefficient(x: float) -> str:
    """How the report writes a coefficient (see test_coefficients_keep_three_significant_digits)."""
    return f"{x:.3f}" if abs(x) >= 0.1 else f"{x:.3g}"


def p_value(p: float) -> str:
    """How the report writes a p-value in a table."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_clause(p: float) -> str:
    """How the report writes a p-value in a sentence: "p < 0.001" or "p = 0.012"."""
    return f"p {p_value(p)}" if p < 0.001 else f"p = {p:.3f}"


def markdown_table_rows(markdown: str) -> list[list[str]]:
    """Every row of every Markdown table, as cells (escapes removed); header and separator rows included."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and line.rstrip().endswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([re.sub(r"\\(.)", r"\1", cell).strip() for cell in cells])
    return rows


def quoted_numbers(estimate: Estimate | dict) -> list[str]:
    """The pieces of text a sentence quoting this fit must hold, however it is worded around them: alpha (SE), 95% CI, p.

    `estimate`: a fit of results.json, or the numbers of a fit by hand (synthetic.hand_fit).
    """
    if isinstance(estimate, Estimate):
        estimate = estimate.to_dict()
    return [
        f"{coefficient(estimate['alpha'])} (SE {coefficient(estimate['se'])}",
        f"{coefficient(estimate['ci_low'])} to {coefficient(estimate['ci_high'])}",
        p_clause(estimate["p_value"]),
    ]


def quotes(sentence: str, estimate: Estimate | dict) -> bool:
    """Whether a sentence quotes this fit's alpha, SE, 95% CI and p."""
    return all(piece in sentence for piece in quoted_numbers(estimate))


def headline_items(path) -> list[str]:
    """The headline's sentences as a reader sees them (Markdown: its bullets; HTML: its section), whitespace collapsed."""
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        html = markdown_to_html(source.split("## Headline", 1)[1].split("\n## ", 1)[0])
    else:
        html = re.search(r'<section id="headline"[^>]*>(.*?)</section>', source, flags=re.S).group(1)
    return [" ".join(line.split()) for line in parse_page(html).text.splitlines() if line.strip()]
