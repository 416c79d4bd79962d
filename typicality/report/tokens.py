"""The token view: each chosen pair's two responses with every token shaded by its log-probability (GLTR-style).

Reads tokens.json (`typicality explain`, typicality/explanation.py) and draws it three ways: an HTML
fragment with inline styles (the report's section, and `TokenView._repr_html_` in a notebook,
where the report's stylesheet is absent), and short Markdown-ready strings (report.md cannot
shade text: it names each response's least likely tokens instead). Every piece of dataset text
goes through `html.escape` here; the page's policy forbids scripts anyway.

Shading by log-probability rather than GLTR's rank: the log-probability is what the audit sums,
so the colours show where a response's typicality comes from. Four bins, as GLTR's four colours.
"""

from __future__ import annotations

import html
from pathlib import Path

from markupsafe import Markup

from typicality.audit_folder import TOKENS_FILE, AuditFolder, load_token_view
from typicality.display import plain
from typicality.formatting import clip_end, fmt, fmt_count, fmt_signed

# (lowest log-probability of the bin, colour, words): p >= 0.37, >= 0.05, >= 0.0025, below.
BINS = ((-1.0, "#b7e4c7", "log p ≥ −1 (likely)"), (-3.0, "#fff3b0", "−3 ≤ log p < −1"), (-6.0, "#ffc9a3", "−6 ≤ log p < −3"),
        (float("-inf"), "#f7a1a1", "log p < −6 (surprising)"))
N_SURPRISING = 5  # the least likely tokens named per response in report.md
PROMPT_CHARS = 300


def shade(logprob: float) -> str:
    return next(colour for low, colour, _ in BINS if logprob >= low)


def label_words(label: float) -> tuple[str, str]:
    """What each response of a pair is, by the label (1 = a preferred)."""
    if label == 1:
        return "preferred", "rejected"
    if label == 0:
        return "rejected", "preferred"
    return "tie", "tie"


def pair_heading(pair: dict) -> str:
    """"Pair 12 (prompt 3f…): a preferred; Δℓ = +0.412; leaving it out moves alpha by −0.0031 (rank 1)"."""
    first, _ = label_words(pair["label"])
    label = "a tie" if first == "tie" else f"response a {first}"
    influence = ""
    if pair.get("influence") is not None:
        influence = f"; leaving it out moves alpha by {fmt_signed(pair['influence'], 4)}" + (f" (rank {pair['rank']})" if pair.get("rank") else "")
    delta = fmt_signed(pair["delta"], 3)
    return f"Pair {pair['comparison']} (prompt {pair['prompt_id']}): {label}; Δℓ (a − b, mean log-likelihood per token) = {delta}{influence}"


def response_heading(side: str, role: str, response: dict) -> str:
    return (
        f"Response {side} ({role}): mean log-likelihood {fmt(response['mean_logprob'])} over {fmt_count(response['n_tokens'])} tokens "
        f"(sum {fmt(response['sum_logprob'], 2)}; the audit's cached sum {fmt(response['cached_sum_logprob'], 2)})"
        + ("; its first token spans the prompt join" if response.get("boundary_merged") else "")
    )


def surprising(response: dict, n: int = N_SURPRISING) -> list[tuple[str, str]]:
    """The n least likely tokens of a response: (piece, log-probability), least likely first."""
    order = sorted(range(len(response["logprobs"])), key=lambda i: response["logprobs"][i])[:n]
    return [(response["pieces"][i], fmt(response["logprobs"][i], 2)) for i in order]


def _legend() -> str:
    swatches = "".join(
        f'<span style="background:{colour};padding:0 .4em;margin-right:.5em;border-radius:2px">{html.escape(words)}</span>' for _, colour, words in BINS
    )
    return f'<p style="font-size:.85em;margin:.3em 0">Each token is shaded by its log-probability under the reference model: {swatches}</p>'


def _tokens_html(response: dict) -> str:
    spans = (
        f'<span style="background:{shade(value)}" title="log p = {value:.3f}">{html.escape(piece)}</span>'
        for piece, value in zip(response["pieces"], response["logprobs"])
    )
    return (
        '<div class="tokens" style="white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace;'
        'font-size:.82em;line-height:1.6;border:1px solid #d0d7de;border-radius:4px;padding:.4em .6em;max-height:22em;overflow-y:auto">'
        + "".join(spans) + "</div>"
    )


def token_view_html(content: dict) -> Markup:
    """The whole view as one HTML fragment, every dataset text escaped."""
    parts = [f'<div class="token-view" style="font-family:-apple-system,\'Segoe UI\',Roboto,Arial,sans-serif;font-size:14px">{_legend()}']
    for pair in content["pairs"]:
        parts.append('<div class="token-pair" style="border:1px solid #d0d7de;border-radius:6px;padding:.3em .9em .6em;margin:.8em 0">')
        parts.append(f'<h4 style="margin:.4em 0">{html.escape(pair_heading(pair))}</h4>')
        parts.append(f'<div style="font-size:.85em;color:#57606a">Prompt (end): {html.escape(pair["prompt_end"])}</div>')
        parts.append('<div style="display:grid;grid-template-columns:1fr 1fr;gap:.8em">')
        for response, role in zip(pair["responses"], label_words(pair["label"])):
            heading = html.escape(response_heading(response["side"], role, response))
            parts.append(f'<div><div style="font-size:.85em;font-weight:600;margin:.4em 0 .2em">{heading}</div>')
            parts.append(_tokens_html(response) + "</div>")
        parts.append("</div></div>")
    parts.append("</div>")
    return Markup("".join(parts))


class TokenView:
    """tokens.json's content, shown inline in a notebook (`_repr_html_`) and in a few lines at a prompt."""

    def __init__(self, content: dict, path: Path | None = None) -> None:
        self.content = content
        self.path = path  # where it was written, when it was

    @property
    def pairs(self) -> list[dict]:
        return self.content["pairs"]

    def _repr_html_(self) -> str:
        return str(token_view_html(self.content))

    def __repr__(self) -> str:
        lines = [f"Token view of {len(self.pairs)} pair(s) under {self.content['model']} ({self.content['selection']})"]
        for pair in self.pairs:
            lines.append("  " + plain(pair_heading(pair))[:160])
            for response, role in zip(pair["responses"], label_words(pair["label"])):
                least = ", ".join(f"{plain(piece) or repr(piece)} ({value})" for piece, value in surprising(response, 3))
                lines.append(f"    {response['side']} ({role}): mean {fmt(response['mean_logprob'])}; least likely: {least}"[:160])
        return "\n".join(lines)


def prompt_end(prompt: str) -> str:
    return clip_end(" ".join(str(prompt).split()), PROMPT_CHARS)


def token_view_section(audit: AuditFolder) -> dict:
    """The report's token-view section: available when `typicality explain` wrote tokens.json for these results."""
    content = load_token_view(audit.folder) if audit.folder is not None else None
    if content is None:
        return {"available": False, "reason": f"{TOKENS_FILE} is absent: `typicality explain {audit.folder.name if audit.folder else 'AUDIT'}` writes it"}
    pairs = []
    for pair in content["pairs"]:
        responses = []
        for response, role in zip(pair["responses"], label_words(pair["label"])):
            least = "; ".join(f"“{' '.join(piece.split()) or '(whitespace)'}” {value}" for piece, value in surprising(response))
            responses.append({"heading": response_heading(response["side"], role, response), "least_likely": least})
        pairs.append({"heading": pair_heading(pair), "prompt_end": pair["prompt_end"], "responses": responses})
    return {"available": True, "selection": content["selection"], "model": content["model"], "pairs": pairs, "html": token_view_html(content)}
