"""A real browser opens report.html: headless Chromium (Debian's `chromium`; `make browser` installs it).

Checks that the page renders (title, embedded figures, a non-blank screenshot), that no script
ran or failed (the console stays silent: no errors, no blocked scripts or fetches), and that
the hostile dataset text shows as text.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from tests.report.page import parse_page
from tests.report.synthetic import TITLE
from typicality.audit_folder import load_token_view, read_audit, save_token_view
from typicality.report import render_report
from typicality.report.tokens import BINS, TokenView

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed: `make browser` installs Debian's chromium package when run as root; "
    "otherwise install it (apt-get install chromium) to run the browser test",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(tmp_path, *arguments: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def console_messages(stderr: str) -> list[str]:
    """What the page logged: script errors, CSP violations (blocked scripts or fetches), console calls."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def report_html(audit_dir):
    return render_report(audit_dir).html


def test_chromium_renders_the_report_and_runs_no_script(report_html, tmp_path):
    result = chromium(tmp_path, "--dump-dom", report_html.as_uri())
    dom = parse_page(result.stdout)
    assert dom.title == f"Typicality audit: {TITLE}"  # an injected script would have set "PWNED"
    images = dom.images()
    assert len(images) == 5 and all(image.format == "PNG" and image.width > 500 for image in images)
    assert dom.tags("script") == []
    assert not [attrs for tag, attrs in dom.elements if "data-pwned" in attrs]
    assert "<script>alert(1)</script>" in dom.text  # shown, as text
    assert len(dom.tags("table")) >= 6
    assert console_messages(result.stderr) == []


def test_chromium_screenshot_shows_a_rendered_page(report_html, tmp_path):
    shot = tmp_path / "report.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2400", report_html.as_uri())
    assert console_messages(result.stderr) == []
    with Image.open(shot) as image:
        assert image.size == (1280, 2400)
        pixels = np.asarray(image.convert("RGB"), dtype=float)
    # Text, tables and figures: many colours and real contrast, not a blank or error page.
    assert pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500
    assert (pixels.mean(axis=2) < 100).mean() > 0.01  # dark ink (text, axes) on a light page


FIRST_SCREEN = (1280, 900)  # a laptop's first screen


def test_first_screen_opens_with_the_answer_and_its_figure(report_html, tmp_path):
    """The first screen holds the answer's sentence and the preference-rate figure; the screenshots stay in tmp_path."""
    dom = parse_page(chromium(tmp_path, "--dump-dom", report_html.as_uri()).stdout)
    answer = next(attrs for tag, attrs in dom.elements if tag == "section")
    assert answer.get("id") == "answer"  # the first section of the page, before the headline's details
    assert dom.tags("img")[0]["alt"] == "Preference rate by Δ typicality, with the fitted curve"
    lines = [line for line in dom.text.split("\n") if line.strip()]
    assert lines[lines.index(f"Typicality audit: {TITLE}", 1) + 2].startswith(("More typical", "Less typical", "No clear"))

    # The same page with the lead figure blanked: the first screens differ where the figure was, inside the first screen.
    blank = report_html.with_name("report-without-lead-figure.html")
    html = report_html.read_text(encoding="utf-8")
    start = html.index('<figure id="figure-preference_rate">')
    source_start = html.index('src="', start) + len('src="')
    blank.write_text(html[:source_start] + html[html.index('"', source_start):], encoding="utf-8")
    shots = {}
    for name, page in (("first-screen", report_html), ("first-screen-without-figure", blank)):
        shots[name] = tmp_path / f"{name}.png"
        result = chromium(tmp_path, f"--screenshot={shots[name]}", f"--window-size={FIRST_SCREEN[0]},{FIRST_SCREEN[1]}", page.as_uri())
        assert console_messages(result.stderr) == []
    with Image.open(shots["first-screen"]) as first, Image.open(shots["first-screen-without-figure"]) as without:
        assert first.size == FIRST_SCREEN
        a, b = (np.asarray(image.convert("RGB"), dtype=float) for image in (first, without))
    changed = np.abs(a - b).sum(axis=2) > 30
    rows = np.flatnonzero(changed.any(axis=1))
    # The figure fills a large block of the first screen, starting in its upper part (after the title and the sentence).
    assert changed.mean() > 0.05 and rows.min() < FIRST_SCREEN[1] // 3
    # Rendered, not a broken-image icon: the figure's own colours (seaborn's blue curve and points) are there.
    blue = (np.abs(a - np.array([76, 114, 176])).sum(axis=2) < 60) & changed
    assert blue.sum() > 200


def test_token_view_shows_hostile_tokens_as_text(audit_dir, tmp_path):
    """The token view (tokens.json, as `typicality explain` writes it) in a real browser: every piece of a hostile response is text."""
    audit = read_audit(audit_dir)
    row = audit.pairs.frame.iloc[0]
    texts = audit.data.responses.set_index("response_id")["response"]
    responses = []
    for side in ("a", "b"):
        text = texts[row[f"response_{side}"]]
        pieces = re.findall(r"\s*\S+|\s+", text)  # words with their leading space: the payloads split across tokens
        logprobs = [-0.5 - (i % 9) for i in range(len(pieces))]
        responses.append({"side": side, "response_id": row[f"response_{side}"], "n_tokens": len(pieces), "sum_logprob": sum(logprobs),
                          "mean_logprob": sum(logprobs) / len(pieces), "cached_sum_logprob": sum(logprobs), "boundary_merged": False,
                          "truncated": False, "pieces": pieces, "logprobs": logprobs})
    save_token_view({"model": "m", "estimate": None, "selection": "The 1 pair(s) <b>chosen</b>", "max_sum_difference": 0.0, "sum_tolerance": 1e-4,
                     "pairs": [{"comparison": int(row["comparison"]), "prompt_id": row["prompt_id"], "label": float(row["label"]), "delta": 0.5,
                                "influence": 0.01, "rank": 1, "prompt_end": "<script>document.title='PWNED'</script>", "responses": responses}]},
                    audit_dir)
    html = render_report(audit_dir).html
    result = chromium(tmp_path, "--dump-dom", html.as_uri())
    dom = parse_page(result.stdout)
    assert dom.title == f"Typicality audit: {TITLE}" and dom.tags("script") == []
    assert not [attrs for tag, attrs in dom.elements if "data-pwned" in attrs]
    assert console_messages(result.stderr) == []
    spans = [attrs for tag, attrs in dom.elements if tag == "span" and (attrs.get("title") or "").startswith("log p = ")]
    assert len(spans) == sum(response["n_tokens"] for response in responses)
    for response in responses:
        assert "".join(response["pieces"]) in dom.text  # every token's characters, shown as text, in order
    # The view alone, as a notebook shows it (TokenView._repr_html_), in a screenshot kept in tmp_path.
    page = tmp_path / "token-view.html"
    page.write_text(f'<!DOCTYPE html><meta charset="utf-8"><body>{TokenView(load_token_view(audit_dir))._repr_html_()}</body>', encoding="utf-8")
    shot = tmp_path / "token-view.png"
    result = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,900", page.as_uri())
    assert console_messages(result.stderr) == []
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    shades = {tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5)) for _, colour, _ in BINS}
    found = {tuple(pixel) for pixel in np.unique(pixels.reshape(-1, 3), axis=0)}
    assert shades <= found  # every shade drawn (the logprobs above span all four bins)
