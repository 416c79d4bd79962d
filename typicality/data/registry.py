"""The loaders by name: `typicality datasets` lists them, `typicality.data.load` runs one.

One static table, `BUILT_IN`, lists every loader: its name, what it reads and how it decides
preferences, and its load function as a `"module:function"` string, imported on its first call
(as the scoring backends are in `typicality/scoring/backends.py`). So listing the loaders or
checking a `LoadRequest` imports no source module, and with them no `datasets`; and the source
modules import nothing from here: they only define their load functions, so the data stage has
no import cycle. A new source is a module in `typicality/data/sources/` and an entry below
(tests/data/test_registry.py checks that the two agree).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from typicality.errors import TypicalityError

if TYPE_CHECKING:
    from typicality.data.request import LoadRequest
    from typicality.domain import PreferenceData


@dataclass(frozen=True)
class LazyFunction:
    """A function named by a `"module:function"` string, imported when first called.

    Callable itself, so that `spec.load(request)` works the same for a table entry as for a plain function.
    """

    target: str

    def resolve(self) -> Callable:
        module_name, _, function_name = self.target.partition(":")
        try:
            return getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as error:
            raise TypicalityError(f"Loader {self.target} cannot be imported: {type(error).__name__}: {error}") from error

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)


@dataclass(frozen=True)
class LoaderSpec:
    name: str
    title: str  # the source's name for people, e.g. "HH-RLHF"; reports title a dataset with it
    hub_id: str | None  # None: the loader reads only the user's own files
    kind: str  # "pairwise" or "rated"
    preference: str  # what decides the label, in words
    controls: tuple[str, ...]  # ratings that can stand for true quality
    load: Callable[[LoadRequest], PreferenceData]  # built-in loaders: a LazyFunction
    subsets: tuple[str, ...] = ()
    default_subset: str | None = None
    ratings: tuple[str, ...] = ()  # rated sources: the ratings --rating may name (empty: any column of the file)
    # Sources that judged the same pairs more than one way (PKU-SafeRLHF: better, safer): the
    # judgements --preference may name, the first the default. Empty: one judgement, no --preference.
    preference_choices: tuple[str, ...] = ()
    # Who judged each comparison, in the source's own words; the loader puts it in the comparisons'
    # annotator column (typicality.domain.ANNOTATOR_COLUMN). None: the source does not say.
    annotator: str | None = None


# Written out here rather than imported from the sources, so that listing the loaders imports no
# source. The two the load functions also read (helpsteer.RATINGS, ultrafeedback.RATINGS) are
# checked equal to these by tests/data/test_registry.py.
HELPSTEER_RATINGS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
HELPSTEER_CONTROLS = ("correctness", "coherence", "complexity", "verbosity")
HH_RLHF_SUBSETS = ("helpful-base", "harmless-base", "helpful-online", "helpful-rejection-sampled")
SHP_DOMAINS = (
    "askacademia", "askanthropology", "askbaking", "askcarguys", "askculinary", "askdocs",
    "askengineers", "askhistorians", "askhr", "askphilosophy", "askphysics", "askscience",
    "asksciencefiction", "asksocialscience", "askvet", "changemyview", "explainlikeimfive", "legaladvice",
)  # fmt: skip
MULTIPREF_SUBSETS = ("annotations", "aggregate")
OASST_SUBSETS = ("oasst1", "oasst2")
PKU_SAFERLHF_SUBSETS = ("default", "alpaca-7b", "alpaca2-7b", "alpaca3-8b")  # the hub configs
PKU_SAFERLHF_PREFERENCES = ("better", "safer")
ARENA_HUMAN_PREFERENCE_SUBSETS = ("55k", "100k", "140k")  # the releases, each its own hub dataset
STACK_EXCHANGE_RATINGS = ("pm_score",)
ULTRAFEEDBACK_RATINGS = ("overall_score", "fine_grained_score", "instruction_following", "honesty", "truthfulness", "helpfulness")

BUILT_IN: tuple[LoaderSpec, ...] = (
    LoaderSpec(
        name="arena-human-preference",
        title="Arena human preference",
        hub_id="lmarena-ai/arena-human-preference-55k",
        kind="pairwise",
        preference="one-hot winner_model_a / winner_model_b / winner_tie (55k), or winner (100k, 140k): a 1, b 0, ties 0.5",
        controls=(),
        load=LazyFunction("typicality.data.sources.arena_human_preference:load_arena_human_preference"),
        subsets=ARENA_HUMAN_PREFERENCE_SUBSETS,
        default_subset="55k",
        annotator="judge_hash (100k release only)",
    ),
    LoaderSpec(
        name="chatbot-arena",
        title="Chatbot Arena",
        hub_id="lmsys/chatbot_arena_conversations",
        kind="pairwise",
        preference="winner (model_a | model_b; tie and tie (bothbad) = 0.5)",
        controls=(),
        load=LazyFunction("typicality.data.sources.chatbot_arena:load_chatbot_arena"),
        annotator="judge",
    ),
    LoaderSpec(
        name="helpsteer",
        title="HelpSteer",
        hub_id="nvidia/HelpSteer",
        kind="rated",
        preference="higher helpfulness (0-4)",
        controls=HELPSTEER_CONTROLS,
        load=LazyFunction("typicality.data.sources.helpsteer:load_helpsteer"),
        ratings=HELPSTEER_RATINGS,
    ),
    LoaderSpec(
        name="helpsteer2",
        title="HelpSteer2",
        hub_id="nvidia/HelpSteer2",
        kind="rated",
        preference="higher helpfulness (0-4)",
        controls=HELPSTEER_CONTROLS,
        load=LazyFunction("typicality.data.sources.helpsteer:load_helpsteer2"),
        ratings=HELPSTEER_RATINGS,
    ),
    LoaderSpec(
        name="helpsteer3",
        title="HelpSteer3",
        hub_id="nvidia/HelpSteer3",
        kind="pairwise",
        preference="overall_preference -3..3 (negative = response1 preferred; 0 = tie)",
        controls=(),
        load=LazyFunction("typicality.data.sources.helpsteer3:load_helpsteer3"),
    ),
    LoaderSpec(
        name="hh-rlhf",
        title="HH-RLHF",
        hub_id="Anthropic/hh-rlhf",
        kind="pairwise",
        preference="chosen over rejected",
        controls=(),
        load=LazyFunction("typicality.data.sources.hh_rlhf:load_hh_rlhf"),
        subsets=HH_RLHF_SUBSETS,
        default_subset="helpful-base",
    ),
    LoaderSpec(
        name="mt-bench-human",
        title="MT-Bench human judgments",
        hub_id="lmsys/mt_bench_human_judgments",
        kind="pairwise",
        preference="winner (model_a | model_b; tie and tie (inconsistent) = 0.5); --split human (default) or gpt4_pair",
        controls=(),
        load=LazyFunction("typicality.data.sources.mt_bench:load_mt_bench_human"),
        annotator="judge (a person, or gpt4_pair's GPT-4)",
    ),
    LoaderSpec(
        name="multipref",
        title="MultiPref",
        hub_id="allenai/multipref",
        kind="pairwise",
        preference="overall_pref of each crowd and expert annotation (A better 1, B better 0, Tie 0.5), or their majority",
        controls=(),
        load=LazyFunction("typicality.data.sources.multipref:load_multipref"),
        subsets=MULTIPREF_SUBSETS,
        default_subset="annotations",
        annotator="evaluator (--subset annotations)",
    ),
    LoaderSpec(
        name="oasst",
        title="OpenAssistant Conversations",
        hub_id="OpenAssistant/oasst1",  # subset oasst2: OpenAssistant/oasst2
        kind="pairwise",
        preference="rank among sibling assistant replies (lower = better; equal = 0.5)",
        controls=(),
        load=LazyFunction("typicality.data.sources.oasst:load_oasst"),
        subsets=OASST_SUBSETS,
        default_subset="oasst1",
    ),
    LoaderSpec(
        name="pairs",
        title="Judged pairs",
        hub_id=None,
        kind="pairwise",
        preference="chosen over rejected, label (1 = response_a preferred, 0.5 = tie), or a column as --label states it",
        controls=(),
        load=LazyFunction("typicality.data.sources.pairs:load_pairs"),
    ),
    LoaderSpec(
        name="pku-saferlhf",
        title="PKU-SafeRLHF",
        hub_id="PKU-Alignment/PKU-SafeRLHF",
        kind="pairwise",
        preference="better_response_id (--preference better, default) or safer_response_id (--preference safer): the index of the preferred response",
        controls=(),
        load=LazyFunction("typicality.data.sources.pku_saferlhf:load_pku_saferlhf"),
        subsets=PKU_SAFERLHF_SUBSETS,
        default_subset="default",
        preference_choices=PKU_SAFERLHF_PREFERENCES,
    ),
    LoaderSpec(
        name="ratings",
        title="Rated responses",
        hub_id=None,
        kind="rated",
        preference="the --rating column (default: the only numeric column)",
        controls=("correctness (a column of that name)",),
        load=LazyFunction("typicality.data.sources.ratings:load_ratings"),
    ),
    LoaderSpec(
        name="shp",
        title="SHP",
        hub_id="stanfordnlp/SHP",
        kind="pairwise",
        preference="labels (1 = human_ref_A preferred by upvotes)",
        controls=(),
        load=LazyFunction("typicality.data.sources.shp:load_shp"),
        subsets=SHP_DOMAINS,
    ),
    LoaderSpec(
        name="stack-exchange-preferences",
        title="Stack Exchange preferences",
        hub_id="HuggingFaceH4/stack-exchange-preferences",
        kind="rated",
        preference="higher pm_score among a question's answers (log2(1 + upvotes), +1 if accepted); ties 0.5",
        controls=(),
        load=LazyFunction("typicality.data.sources.stack_exchange:load_stack_exchange_preferences"),
        ratings=STACK_EXCHANGE_RATINGS,
    ),
    LoaderSpec(
        name="summarize-from-feedback",
        title="Summarize from Feedback",
        hub_id="openai/summarize_from_feedback",
        kind="pairwise",
        preference="choice (index of the preferred summary: 0 = response_a)",
        controls=(),
        load=LazyFunction("typicality.data.sources.summarize_from_feedback:load_summarize_from_feedback"),
        annotator="worker",
    ),
    LoaderSpec(
        name="ultrafeedback",
        title="UltraFeedback",
        hub_id="openbmb/UltraFeedback",
        kind="rated",
        preference="higher overall_score (or another rating via --rating)",
        controls=("truthfulness", "honesty"),
        load=LazyFunction("typicality.data.sources.ultrafeedback:load_ultrafeedback"),
        ratings=ULTRAFEEDBACK_RATINGS,
    ),
    LoaderSpec(
        name="ultrafeedback-binarized",
        title="UltraFeedback binarized",
        hub_id="HuggingFaceH4/ultrafeedback_binarized",
        kind="pairwise",
        preference="chosen over rejected (tie when score_chosen == score_rejected)",
        controls=(),
        load=LazyFunction("typicality.data.sources.ultrafeedback_binarized:load_ultrafeedback_binarized"),
    ),
)

LOADERS: dict[str, LoaderSpec] = {spec.name: spec for spec in BUILT_IN}


def get_loader(name: str) -> LoaderSpec:
    if name not in LOADERS:
        known = ", ".join(sorted(LOADERS))
        raise TypicalityError(f"Unknown dataset '{name}'. Known datasets: {known}.")
    return LOADERS[name]


def all_loaders() -> list[LoaderSpec]:
    return [LOADERS[name] for name in sorted(LOADERS)]
