"""Headless Chromium opens comparison.html: it renders, embeds its figures, runs no script and logs nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.report.page import parse_page
from tests.report.test_browser import CHROMIUM, chromium, console_messages
from tests.stats.compare_audits import model_audits
from typicality.pipeline import compare

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (`make browser` installs it)")
HOSTILE = '<img src=x onerror="document.title=\'PWNED\'">'


@pytest.fixture(scope="module")
def comparison_html(tmp_path_factory):
    root = tmp_path_factory.mktemp("comparison-browser")
    compare(model_audits(root, prompts=80), labels=[HOSTILE, "other"], out=root / "comparison")
    return root / "comparison" / "comparison.html"


def test_chromium_renders_the_comparison_and_runs_no_script(comparison_html, tmp_path):
    result = chromium(tmp_path, "--dump-dom", comparison_html.as_uri())
    dom = parse_page(result.stdout)
    assert dom.title == f"Model comparison: {HOSTILE}, other"  # an injected handler would have set "PWNED"
    assert HOSTILE in dom.text  # shown as text
    assert dom.tags("script") == [] and [attrs for attrs in dom.tags("img") if "onerror" in attrs] == []
    images = dom.images()
    assert len(images) == 2 and all(image.format == "PNG" for image in images)
    assert console_messages(result.stderr) == []
    shot = tmp_path / "comparison.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1600", comparison_html.as_uri())
    with Image.open(shot) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=float)
    assert pixels.std() > 20 and (pixels.mean(axis=2) < 100).mean() > 0.01  # text and figures, not a blank page
