"""Run `llama_cpp.server` with one speed fix for echo+logprobs on a 262k-token vocabulary.

llama-cpp-python builds each token's `top_logprobs` by sorting the whole vocabulary in Python
(`sorted(zip(logprobs, range(n_vocab)), reverse=True)[:logprobs]`): with Gemma's 262,144
tokens that is ~0.4 s per echoed token, most of a request's time. In `llama_cpp.llama`
every such call is followed by `[:logprobs]`, so the top 20 in order (`heapq.nlargest`) is
the same answer; OpenAI's API allows at most 5. Nothing else about the server changes: the
tokens, log-probabilities and offsets it sends are its own.
"""

from __future__ import annotations

import builtins
import heapq
import runpy

import llama_cpp.llama

TOP = 20


def _sorted_top(iterable, *, key=None, reverse=False):
    if reverse and key is None:
        return heapq.nlargest(TOP, iterable)
    return builtins.sorted(iterable, key=key, reverse=reverse)


llama_cpp.llama.sorted = _sorted_top  # module globals are looked up before builtins

if __name__ == "__main__":
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
