"""A model scored in-process with its own Hugging Face tokenizer: the project tokenizes, the engine only computes.

Shared by the transformers backend and the vLLM backend, so both read exactly the same token
ids for a text: the BOS policy (auto, always, never; never doubled), the optional chat
template, the shared preparation rules (preparation.py: skips, boundary, window), and, for
`typicality check`, each token's characters from the tokenizer's own offsets, and the
model's identity (what the fingerprint hashes). A backend using it provides `tokenizer`,
`model_name`, `revision`, `name` (the backend's), `bos`, `chat_template`, `window`,
`dtype_name` (the compute dtype, e.g. "float32") and `_one_at_a_time(ids)`: the
log-probabilities of ids[1:], each token after all before it, computed for that one text alone.
"""

from __future__ import annotations

from typicality.errors import TypicalityError
from typicality.scoring.fingerprint import ModelIdentity
from typicality.scoring.preparation import prepare_requests
from typicality.scoring.requests import Prepared, ScoreRequest, Skipped, TokenTrace


class LocalTokenizer:
    """The tokenizer side of an in-process backend (a mixin; see the module docstring)."""

    tokenizer = None
    model_name: str = ""
    bos: str = "auto"
    chat_template: bool = False

    @property
    def window(self) -> int:
        raise NotImplementedError

    @property
    def dtype_name(self) -> str:
        raise NotImplementedError

    @property
    def identity(self) -> ModelIdentity:
        """What the fingerprint hashes: the model, the backend, the dtype and every tokenizing rule above."""
        return ModelIdentity(
            name=self.model_name,
            revision=self.revision,
            backend=self.name,
            dtype=self.dtype_name,
            bos=self.bos_id is not None,
            chat_template=bool(self.chat_template),
            window=self.window,
        )

    def _one_at_a_time(self, ids: list[int]) -> list[float]:
        """log p(ids[i] | ids[:i]) for i >= 1, for this one sequence alone (independent of batching)."""
        raise NotImplementedError

    # -- settings ------------------------------------------------------------------------------

    def _check_tokenizer_settings(self, settings: dict) -> None:
        """Refuse a chat template the tokenizer lacks, with the fix (the BOS policy's values are checked by the options class)."""
        if settings.get("chat_template") and not getattr(self.tokenizer, "chat_template", None):
            raise TypicalityError(
                f"{self.model_name} has no chat template; score raw text (the default) or pick a model that has one."
            )

    @property
    def bos_id(self) -> int | None:
        """The BOS put before every text, or None."""
        bos_id = self.tokenizer.bos_token_id
        if self.bos == "never" or bos_id is None:
            if self.bos == "always":
                raise TypicalityError(f"--bos always: the tokenizer of {self.model_name} has no BOS token.")
            return None
        if self.bos == "always":
            return bos_id
        # auto: follow the tokenizer's own habit (Gemma and Llama add BOS; GPT-2 does not).
        probe = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        return bos_id if probe and probe[0] == bos_id else None

    # -- tokens ----------------------------------------------------------------------------------

    def prepare(self, requests: list[ScoreRequest]) -> list[Prepared | Skipped]:
        def encode(texts: list[str]) -> list[list[int]]:
            return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

        return prepare_requests(requests, encode, self.bos_id, self.window, self._render_prompt)

    def trace(self, requests: list[ScoreRequest]) -> list[TokenTrace | Skipped]:
        """The prepared ids of each request, their characters (the tokenizer's offsets) and one-at-a-time log-probabilities."""
        traces: list[TokenTrace | Skipped] = []
        for request, item in zip(requests, self.prepare(requests)):
            if isinstance(item, Skipped):
                traces.append(item)
                continue
            ids = [*item.context, *item.response]
            specials = set(self.tokenizer.all_special_ids)
            leading = next((i for i, token in enumerate(ids) if token not in specials), len(ids))
            text = self._render_prompt(request.prompt) + request.response
            values = self._one_at_a_time(ids)
            spans, facts = self._spans(text, ids, leading), self._bos_facts(ids)
            if spans is None:
                spans, facts["offsets"] = (None,) * len(ids), "unavailable"
            traces.append(TokenTrace(
                text=text,
                boundary=len(text) - len(request.response),
                tokens=tuple(self.tokenizer.convert_ids_to_tokens(ids)),
                spans=spans,
                logprobs=(None, *values),
                response_start=len(item.context),
                boundary_merged=item.boundary_merged,
                n_leading_special=leading,
                facts=facts,
            ))
        return traces

    def _spans(self, text: str, ids: list[int], leading: int) -> tuple[tuple[int, int] | None, ...] | None:
        """Each id's characters in `text`, from the tokenizer's own offsets; all None when the ids are not the text's
        tokens; None when the tokenizer gives no offsets (a slow, Python tokenizer)."""
        unknown = (None,) * len(ids)
        try:
            encoding = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        except (NotImplementedError, ValueError, TypeError):
            return None
        text_ids, offsets = list(encoding["input_ids"]), [tuple(o) for o in encoding["offset_mapping"]]
        specials = set(self.tokenizer.all_special_ids)
        while text_ids and text_ids[0] in specials:  # a rendered template may spell out its BOS
            text_ids, offsets = text_ids[1:], offsets[1:]
        if text_ids != ids[leading:]:
            return unknown  # truncated, or prepared from another tokenization: the check reports it
        return (None,) * leading + tuple(offsets)

    def _bos_facts(self, ids: list[int]) -> dict:
        bos = self.tokenizer.bos_token_id
        probe = self.tokenizer("a", add_special_tokens=True)["input_ids"]
        return {
            "bos_token": self.tokenizer.bos_token,
            "tokenizer_adds_bos": bos is not None and bool(probe) and probe[0] == bos,
            "bos_policy": self.bos,
            "bos_expected": self.bos_id is not None,
            "bos_count": ids.count(bos) if bos is not None else 0,
        }

    def _render_prompt(self, prompt: str) -> str:
        if not self.chat_template:
            return prompt
        return self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
