"""llama-cpp-python's OpenAI server for scoring the Q4_K_M model: two fixes around llama-cpp-python 0.3.36.

1. No extra weight buffer types (`use_extra_bufts = False`): the wheel built from source with
   GGML_NATIVE picks up the CPU's AMX, and its AMX/repacked-weight path crashed (general
   protection fault in libggml-cpu) on the first evaluation on this machine (a Firecracker VM
   that reports AMX). Without the extra buffer types llama.cpp runs its plain Q4_K_M kernels.
2. Speed:

For every echoed token llama-cpp-python ranks the whole vocabulary in Python to build
`top_logprobs` (`sorted(zip(logprobs, range(n_vocab)), reverse=True)[:k]`): with Gemma's 262,144
tokens that is tens of milliseconds per token, most of a request. Here `zip(array, range(n))`
over a full vocabulary row hands `sorted` only the 64 largest entries (numpy argpartition), so
the top-k it returns (k <= 5 in the OpenAI API) is the same, and the token's own log-probability,
which is what `typicality` reads, is untouched. Every other call of `zip` passes through.

    python reports/compare-gemma-3-270m-float32-vs-q4_k_m/llama_server_fast.py --model X.gguf --model_alias NAME ...
"""

from __future__ import annotations

import builtins
import runpy

import llama_cpp.llama
import numpy as np

KEEP = 64


def _zip_keeping_the_top(*iterables):
    if len(iterables) == 2 and isinstance(iterables[0], np.ndarray) and isinstance(iterables[1], range):
        row, positions = iterables
        if row.ndim == 1 and len(row) == len(positions) and len(row) > KEEP:
            top = np.argpartition(row, -KEEP)[-KEEP:]
            return builtins.zip(row[top].tolist(), top.tolist())
    return builtins.zip(*iterables)


llama_cpp.llama.zip = _zip_keeping_the_top  # module globals are looked up before builtins

_default_model_params = llama_cpp.llama.llama_cpp.llama_model_default_params


def _model_params_without_extra_buffers():
    params = _default_model_params()
    params.use_extra_bufts = False
    return params


llama_cpp.llama.llama_cpp.llama_model_default_params = _model_params_without_extra_buffers

if __name__ == "__main__":
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
