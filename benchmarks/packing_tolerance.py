"""The packing check's margins: how far packed rows stray from separate rows with the right mask (rounding)
and with wrong masks, per model and dtype, against `packing_tolerance` (transformers_backend.py).

    .venv/bin/python benchmarks/packing_tolerance.py           # the embedded Gemma 3 270M and the tests' tiny models (~1 min)

Each figure is the backend's `_packing_deviation()`: on its probe (a prompt with two responses),
max |packed - separate| / max |separate| over the responses' outputs. Masks: the right tree mask;
"second sees first" (every response one segment, so the second attends to the first's tokens);
"context end hidden" (the responses do not see the context's last token). Gemma 3 270M runs in
float32 and bfloat16 only: in float16 it overflows (NaN logits), as Gemma does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from tests.scoring.tiny_architectures import ARCHITECTURES, build_tiny_architecture  # noqa: E402
from tests.scoring.tiny_model import build_tiny_model  # noqa: E402
from typicality.scoring import load_backend, transformers_backend  # noqa: E402
from typicality.scoring.packing import CONTEXT, tree_mask  # noqa: E402
from typicality.scoring.transformers_backend import packing_tolerance  # noqa: E402


def second_sees_first(segments, positions, window=None):
    return tree_mask(segments.clamp(max=CONTEXT + 1), positions, window)


def context_end_hidden(segments, positions, window=None):
    visible = tree_mask(segments, positions, window).clone()
    last = (segments == CONTEXT).sum(dim=1) - 1  # the context comes first in a row
    for row in range(segments.shape[0]):
        visible[row, 0, segments[row] > CONTEXT, last[row]] = False
    return visible


MASKS = {"right": tree_mask, "second sees first": second_sees_first, "context end hidden": context_end_hidden}


def deviations(backend) -> dict[str, float]:
    found = {}
    for name, mask in MASKS.items():
        transformers_backend.tree_mask = mask
        try:
            found[name] = backend._packing_deviation()
        finally:
            transformers_backend.tree_mask = tree_mask
    return found


def main() -> None:
    root = Path(tempfile.mkdtemp())
    tiny = build_tiny_model(root / "gemma")
    models = [("gemma-3-270m", "gemma-3-270m", ("float32", "bfloat16"))]
    models += [(f"tiny {name}", str(folder), ("float32", "bfloat16", "float16")) for name, folder in
               [("gemma", tiny), *((a, build_tiny_architecture(a, tiny, root / a)) for a in ARCHITECTURES)]]
    print(f"{'model':<18} {'dtype':<9} {'attention':<9} {'tolerance':>9}  " + "  ".join(f"{name:>24}" for name in MASKS) + "  verdicts")
    for label, model, dtypes in models:
        for dtype in dtypes:
            backend = load_backend(model, device="cpu", dtype=dtype, progress=False)
            eps, tolerance = torch.finfo(backend.torch_dtype).eps, packing_tolerance(backend.torch_dtype)
            for attention in ("sdpa", "eager"):
                if attention == "eager":
                    backend.model.set_attn_implementation("eager")
                found = deviations(backend)
                cells = "  ".join(f"{value:10.3g} ({value / eps:9.3g} eps)" for value in found.values())
                verdicts = " ".join("pack" if value <= tolerance else "refuse" for value in found.values())
                print(f"{label:<18} {dtype:<9} {attention:<9} {tolerance:9.3g}  {cells}  {verdicts}", flush=True)


if __name__ == "__main__":
    main()
