"""The `typicality` command: each sub-command wires public API functions, nothing more.

The stages are reached through their packages (`typicality.score`, `typicality.pipeline.write_influence`), which load a
module on first use: `typicality --help` and a mistyped flag cost no pandas, statsmodels or torch import.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table
from rich.text import Text

import typicality
import typicality.data
import typicality.report
import typicality.scoring
import typicality.stats
from typicality.errors import TypicalityError
from typicality.safe_text import DataConsole, say
from typicality.scoring.backends import BACKENDS, DEFAULT_BACKEND, option_declarations
from typicality.scoring.options import ScoringOptions
from typicality.stats.options import AnalysisOptions


def add_loader_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads a dataset shares (the fields of `typicality.data.LoadRequest`)."""
    parser.add_argument("dataset", help="a registered dataset name (see `typicality datasets`)")
    parser.add_argument("--data-files", nargs="+", metavar="PATH", help="local file(s) in the source's original format instead of the hub")
    parser.add_argument("--subset", help="the source's subset (e.g. helpful-base for hh-rlhf)")
    parser.add_argument("--split", help="the split to read (default: the loader's)")
    # --revision is the model's (score, audit); the dataset's is --data-revision.
    parser.add_argument(
        "--data-revision", metavar="REVISION", help="hub datasets: the branch, tag or commit to read (default: the latest); recorded in dataset.json"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="keep a seeded random sample of N whole prompt groups")
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit (default 0)")
    parser.add_argument("--columns", metavar="NEW=OLD,...", help="map the file's column names to the ones the loader expects")
    parser.add_argument("--rating", help="rated sources: the rating column that decides preferences")
    parser.add_argument(
        "--preference", metavar="NAME", help="sources judged more than one way (pku-saferlhf: better, safer): the judgement that is the label"
    )
    parser.add_argument(
        "--label",
        metavar="SPEC",
        help="pairs: what the preference column means, e.g. better_response_id=0:a,1:b or winner=model_a:a,model_b:b,tie:tie "
        "or onehot:a=winner_model_a,b=winner_model_b,tie=winner_tie (default: column label, 1 = response_a preferred, 0.5 = tie)",
    )


def loader_arguments(args: argparse.Namespace):
    """The loader options as a `LoadRequest` (valid when built; for `typicality.data.load` and `audit`)."""
    return typicality.LoadRequest(
        args.dataset,
        data_files=tuple(args.data_files or ()),
        subset=args.subset,
        split=args.split,
        limit=args.limit,
        seed=args.seed,
        columns=typicality.data.parse_columns(args.columns),
        rating=args.rating,
        revision=args.data_revision,
        preference=args.preference,
        label=args.label,
    )


def load_from_args(args: argparse.Namespace):
    return typicality.load(loader_arguments(args))


def cmd_datasets(args: argparse.Namespace) -> int:
    loaders = typicality.data.all_loaders()
    if args.json:
        print(json.dumps([_loader_row(spec) for spec in loaders], indent=2))
        return 0
    table = Table(title="Registered datasets")
    for column in ("name", "hub id", "kind", "subsets", "preference signal", "annotator", "controls"):
        table.add_column(column, no_wrap=column in ("name", "hub id"))  # names and ids are copied whole
    for spec in loaders:
        row = _loader_row(spec)
        cells = [row["name"], row["hub_id"] or "-", row["kind"], ", ".join(row["subsets"]) or "-", row["preference"]]
        table.add_row(*cells, row["annotator"] or "-", ", ".join(row["controls"]) or "-")
    DataConsole(width=200).print(table)
    return 0


def _loader_row(spec) -> dict:
    return {
        "name": spec.name,
        "hub_id": spec.hub_id,
        "kind": spec.kind,
        "subsets": list(spec.subsets),
        "preference": spec.preference,
        "annotator": spec.annotator,
        "controls": list(spec.controls),
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    data = load_from_args(args)
    summary = data.summary()
    if args.json:
        print(json.dumps({**summary, "preference": data.preference, "examples": typicality.report.pair_examples(data)}, indent=2))
        return 0
    console = DataConsole(width=120)
    table = Table(title=f"{data.name} ({data.source})", show_header=False)
    for key in ("kind", "subset", "split", "n_rows", "n_prompts", "n_responses", "n_comparisons", "n_ties"):
        table.add_row(key, str(summary[key]))
    for reason, count in summary["dropped"].items():
        table.add_row(f"dropped: {reason}", str(count))
    for name in ("prompt_chars_quantiles", "response_chars_quantiles"):
        table.add_row(name.replace("_", " "), ", ".join(f"{k}={v:.0f}" for k, v in summary[name].items()))
    for note in summary["notes"]:
        table.add_row("note", note)
    table.add_row("preference", Text(data.preference))
    console.print(table)
    typicality.report.print_pair_examples(data, console)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    typicality.output_folder.check_writable_folder(args.folder, "the report")
    paths = typicality.render_report(args.folder)
    say(f"wrote {paths.markdown}")
    say(f"wrote {paths.html}")
    say(f"wrote {len(paths.figures)} figure(s) in {paths.markdown.parent / 'figures'}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if (out / typicality.audit_folder.SCORES_FILE).exists() and not args.force:
        raise TypicalityError(f"{out} already holds a simulated or audited dataset; choose another --out or pass --force to overwrite it.")
    data, scores = typicality.simulate(
        args.alpha, args.prompts, args.responses_per_prompt, args.seed, rating_levels=args.rating_levels, correctness_noise=args.correctness_noise,
        groups=args.groups, group_sd=args.group_sd,
    )
    typicality.pipeline.write_simulation(data, scores, out)
    say(f"wrote {len(data.responses)} responses, {len(data.comparisons)} pairs (true alpha {args.alpha}) and scores.parquet to {out}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    if args.input is None and (args.data is None or args.scores is None):
        raise TypicalityError("typicality fit needs INPUT (a folder with the data files and scores.parquet) or both --data DIR and --scores FILE.")
    _check_fit_output(args)
    options = analysis_options(args, "fit")  # before any file is read: a wrong setting costs nothing
    data, scores = typicality.pipeline.read_analysis_input(args.input, data=args.data, scores=args.scores)
    unconditional = None
    if args.unconditional_scores:  # the fluency negative control from a `typicality score --without-prompt` file
        unconditional = typicality.load_scores(args.unconditional_scores)
    results, design = typicality.analyze_with_design(data, scores, options, unconditional=unconditional)
    if args.out:
        out = typicality.audit_folder.save_results(results, args.out)
    else:  # a folder fit in place: its pair design and results together, through the audit-folder contract
        out = typicality.save_analysis(results, design, Path(args.input or args.data))
    typicality.report.print_results(results)
    say(f"wrote {out}")
    return 0


def _check_fit_output(args: argparse.Namespace) -> None:
    """Before fitting: --out can take results.json, or the folder fitted in place is writable."""
    if args.out:
        typicality.audit_folder.check_results_output(args.out)
    else:
        typicality.output_folder.check_writable_folder(args.input or args.data, "results.json and pairs.parquet")


class RenamedOption(argparse.Action):
    """An option's old name, kept working: it stores into the new option and says, on stderr, what to type instead."""

    def __init__(self, option_strings, dest, *, new_name: str, **kwargs):
        self.new_name = new_name
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        say(f"typicality: {option_string} is renamed {self.new_name} (same values); the old name will go in a later version.", stderr=True)
        setattr(namespace, self.dest, values)


def add_analysis_options(parser: argparse.ArgumentParser, command: str) -> None:
    """The analysis flags of `fit` or `audit`: one per field of `AnalysisOptions` that `command` takes, declared in its metadata."""
    for field in AnalysisOptions.flags(command):
        declared = {key: value for key, value in field.metadata.items() if key not in ("flag", "commands", "old_flag")}
        default = list(field.default) if isinstance(field.default, tuple) else field.default  # as argparse gives a list
        parser.add_argument(field.metadata["flag"], default=default, **declared)
        if "old_flag" in field.metadata:  # an old name kept working, hidden from --help
            parser.add_argument(
                field.metadata["old_flag"], dest=flag_dest(field), choices=declared.get("choices"), action=RenamedOption, new_name=field.metadata["flag"]
            )


def flag_dest(field) -> str:
    """Where argparse stores an analysis flag: its name (--pair-construction -> pair_construction), as for every flag."""
    return field.metadata["flag"].removeprefix("--").replace("-", "_")


def analysis_options(args: argparse.Namespace, command: str, **settings) -> AnalysisOptions:
    """The `AnalysisOptions` the flags of `command` describe (checked when built), with `settings` (e.g. audit's seed) added."""
    given = {field.name: getattr(args, flag_dest(field)) for field in AnalysisOptions.flags(command)}
    return AnalysisOptions(**{name: value for name, value in given.items() if value is not None}, **settings)


def add_stats_commands(commands) -> None:
    """The `simulate` and `fit` sub-commands (typicality.stats)."""
    simulate_parser = commands.add_parser("simulate", help="write a synthetic rated dataset with a known alpha, and its scores")
    simulate_parser.add_argument("--alpha", type=float, required=True, help="the true typicality coefficient")
    simulate_parser.add_argument("--prompts", type=int, default=500, help="number of prompts (default 500)")
    simulate_parser.add_argument("--responses-per-prompt", type=int, default=4, help="responses per prompt; every pair is judged (default 4)")
    simulate_parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate_parser.add_argument(
        "--rating-levels", type=int, metavar="L", help="cut helpfulness into L levels like a 0-4 scale (ties appear); default continuous"
    )
    simulate_parser.add_argument(
        "--correctness-noise",
        type=float,
        metavar="S",
        help="make correctness a noisy quintile of continuous true quality (S = noise SD "
             "relative to quality's; 0 = coarse only); default: correctness is the true quality",
    )
    simulate_parser.add_argument(
        "--groups", type=int, metavar="N", help="N annotators, each judging every pair of its own prompts (the `annotator` column); default: none"
    )
    simulate_parser.add_argument(
        "--group-sd", type=float, default=0.0, metavar="TAU", help="with --groups: each annotator's alpha is drawn from N(alpha, TAU^2) (default 0)"
    )
    simulate_parser.add_argument("--out", required=True, help="folder to write (data files + scores.parquet)")
    simulate_parser.add_argument("--force", action="store_true", help="overwrite a folder that already holds a dataset")
    simulate_parser.set_defaults(run=cmd_simulate)

    fit_parser = commands.add_parser("fit", help="fit the typicality-bias estimators to data + scores and write results.json")
    fit_parser.add_argument("input", nargs="?", help="a folder with the data files and scores.parquet (audit or simulated)")
    fit_parser.add_argument("--data", help="a data folder (responses.parquet, comparisons.parquet, dataset.json), instead of INPUT")
    fit_parser.add_argument("--scores", help="a scores parquet, instead of INPUT/scores.parquet")
    add_analysis_options(fit_parser, "fit")
    fit_parser.add_argument(
        "--unconditional-scores",
        metavar="FILE",
        help="scores of the same responses without their prompts (`typicality score --without-prompt`): adds the fluency negative control",
    )
    fit_parser.add_argument("--out", help="results.json to write (default INPUT/results.json)")
    fit_parser.set_defaults(run=cmd_fit)


def cmd_score(args: argparse.Namespace) -> int:
    options = scoring_options(args).validate()  # the pre-flight before the data loads: a wrong model or cache costs seconds
    typicality.audit_folder.check_scores_output(args.out)  # before scoring: not a folder, not over a file the tool did not write, writable
    data = load_from_args(args)
    if args.without_prompt:  # the fluency negative control's scores (typicality fit --unconditional-scores)
        data = typicality.stats.without_prompts(data)
    result = typicality.score(data, options, progress=not args.no_progress)
    path = typicality.save_scores(result, args.out)
    card = result.card
    skipped = ", ".join(f"{reason}: {count}" for reason, count in card.skipped.items()) or "none"
    say(
        f"scored {card.n_scored} of {card.n_responses} responses with {card.fingerprint} "
        f"({card.n_from_cache} from cache, {card.n_computed} computed); skipped: {skipped}; "
        f"prompts cut to fit: {card.prompt_truncated}; responses cut: {card.response_truncated}; "
        f"tokens spanning the prompt/response join: {card.boundary_merged}"
    )
    if card.check:
        say(f"pre-flight check passed ({len(card.check['checks'])} checks; `typicality check` runs the full set)")
    say(f"wrote {path} and {path.with_name(path.stem + '.card.json')}")
    return 0


def add_model_options(parser: argparse.ArgumentParser, *, model_flag: bool = True) -> None:
    """The reference model and how to run it: shared by `score`, `audit` and (without --model) `check`."""
    if model_flag:
        parser.add_argument(
            "--model",
            default="gemma-3-270m",
            help="gemma-3-270m (embedded, default), a Hugging Face id, a checkpoint folder, a .gguf file, vllm:MODEL "
            "(one of those but a .gguf, run by vLLM in this process; needs vLLM installed), or openai:URL#MODEL "
            "(a vLLM or other OpenAI-compatible completions server; API key from $TYPICALITY_API_KEY)",
        )
        parser.add_argument("--cache-dir", help="score cache folder (default: $TYPICALITY_CACHE or the user cache folder)")
        parser.add_argument("--no-check", action="store_true", help="skip the quick conformance check run before scoring any model but the embedded one")
        parser.add_argument(
            "--engine",
            choices=("local", "ray"),
            help="local (default): the model runs in this process; ray: in actor workers of a Ray cluster, one "
                 "model each, scores written into this machine's cache as they arrive (pip install 'typicality[ray]')",
        )
        parser.add_argument(
            "--ray-address",
            metavar="ADDR",
            help="--engine ray: the cluster to join (HEAD:6379 from a node of it, or auto for one started "
                 "on this machine with `ray start`; default $RAY_ADDRESS, else a new local cluster)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            metavar="N",
            help="--engine ray: scoring workers, each holding one copy of the model (default: one per --gpus-per-worker GPUs of the cluster; 1 without GPUs)",
        )
        parser.add_argument(
            "--gpus-per-worker",
            type=float,
            metavar="G",
            help="--engine ray: GPUs per worker (default 1 on a cluster with GPUs, else 0; 0.5 puts two small models on one GPU; >1 with --device-map auto)",
        )
        parser.add_argument(
            "--ray-batch-size",
            type=int,
            metavar="N",
            help="--engine ray: responses per Ray task, committed together when they come "
                 "back (default 64, fewer in a small run so that each worker gets 4 tasks)",
        )
    by_prefix = ", ".join(f"{spec.name} for {spec.model_form}" for spec in BACKENDS.values() if spec.prefix)
    parser.add_argument("--backend", help=f"a registered scoring backend (default: {by_prefix}, else {DEFAULT_BACKEND})")
    parser.add_argument("--revision", help="hub revision (branch, tag or commit) of --model")
    # Each registered backend's options (backend_options.py): one flag per option, however many backends take it.
    for name, (field, backends) in option_declarations().items():
        flag, value_type, declared = "--" + name.replace("_", "-"), BACKENDS[backends[0]].options.value_type(name), field.metadata
        try:
            if value_type is bool:
                parser.add_argument(flag, action="store_true", help=declared.get("help"))
            else:
                parser.add_argument(flag, type=value_type, choices=declared.get("choices"), metavar=declared.get("metavar"), help=declared.get("help"))
        except argparse.ArgumentError:
            raise TypicalityError(f"Backend(s) {', '.join(backends)}: option {name} clashes with the command's own {flag}; rename the option.") from None
    parser.add_argument("--no-progress", action="store_true", help="no progress output")


def scoring_options(args: argparse.Namespace):
    """The `ScoringOptions` the user's flags describe (unset flags keep the defaults); checked when built, the machine's
    pre-flight (`validate()`) is run by what takes them (`score`, `audit`, `check_model`)."""
    names = ("model", "backend", "revision", "cache_dir", "shard", "engine", "ray_address", "workers", "gpus_per_worker", "ray_batch_size",
             *option_declarations())
    settings = {name: getattr(args, name, None) for name in names}
    # A switch left off is not given (False), like a flag left out (None): neither is refused for another backend's model.
    settings = {name: value for name, value in settings.items() if value is not None and value is not False}
    return ScoringOptions.create(**settings, check=not getattr(args, "no_check", False))


def add_score_command(commands) -> None:
    """The `score` sub-command (typicality.scoring)."""
    parser = commands.add_parser("score", help="score every response's log-likelihood under a reference model")
    add_loader_options(parser)
    add_model_options(parser)
    parser.add_argument(
        "--shard",
        metavar="I/N",
        help="score only shard I of N (0-based; split by a hash of response_id), e.g. one task of a job array; merge the caches with `typicality merge-cache`",
    )
    parser.add_argument(
        "--without-prompt",
        action="store_true",
        help="score each response with an empty prompt (for `fit --unconditional-scores`, the fluency negative control)",
    )
    parser.add_argument("--out", required=True, metavar="PATH", help="the scores parquet to write (a .card.json is written beside it)")
    parser.set_defaults(run=cmd_score)


def cmd_audit(args: argparse.Namespace) -> int:
    request = loader_arguments(args)
    analysis = analysis_options(args, "audit", seed=request.seed)  # one seed: the sample, the pairs' orientation and the bootstrap
    out = args.out or f"audit-{args.dataset}" + (f"-{args.subset}" if args.subset else "")
    typicality.audit(request, out, scoring_options(args), analysis, force=args.force, progress=not args.no_progress)
    say(f"audit written to {out}/ (report.html, report.md, results.json, scores.parquet, pairs.parquet, figures/)")
    return 0


def add_audit_command(commands) -> None:
    """The `audit` sub-command: load, score, fit and report in one go."""
    parser = commands.add_parser("audit", help="load, score, fit and report: the whole audit into one folder")
    add_loader_options(parser)
    add_model_options(parser)
    add_analysis_options(parser, "audit")
    parser.add_argument("--out", metavar="DIR", help="the audit folder (default audit-DATASET[-SUBSET])")
    parser.add_argument("--force", action="store_true", help="replace an audit folder typicality wrote (never a folder holding other files)")
    parser.set_defaults(run=cmd_audit)


def cmd_merge_cache(args: argparse.Namespace) -> int:
    target = args.into if args.into is not None else typicality.scoring.cache_root()
    report = typicality.scoring.merge_caches(target, args.caches)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0
    for source, added in report.added.items():
        conflicts = report.conflicts[source]
        note = f", {conflicts} disagreeing rows kept as they were in the target" if conflicts else ""
        say(f"{source}: {added} scores added, {report.already_present[source]} already present{note}")
    say(f"{report.target} now holds {report.total_rows} scores")
    return 0


def add_merge_cache_command(commands) -> None:
    """`merge-cache`: the shard caches of a job array into one cache."""
    parser = commands.add_parser("merge-cache", help="merge score caches (e.g. of `score --shard I/N` jobs) into one")
    parser.add_argument("caches", nargs="+", metavar="CACHE", help="cache folders (each holding scores.sqlite) or scores.sqlite files")
    parser.add_argument("--into", metavar="DIR", help="the cache folder to merge into (default: $TYPICALITY_CACHE or the user cache folder)")
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(run=cmd_merge_cache)


def cmd_check(args: argparse.Namespace) -> int:
    options = scoring_options(args)
    report = typicality.scoring.check_model(options, against=args.against, progress=not args.no_progress, against_tolerance=args.against_tolerance)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
        return 0 if report.passed else 1
    title = f"typicality check {report.model}" + (f" --against {report.against}" if report.against else "")
    table = Table(title=title, caption=f"{report.fingerprint}; tolerance {report.tolerance:g} nats per token")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in report.checks:
        table.add_row(check.name, Text("pass", style="green") if check.passed else Text("FAIL", style="bold red"), check.detail)
    console = DataConsole(width=160)
    console.print(table)
    failed = Text.assemble(("some checks failed", "bold red"), ": fix them before a long run")
    console.print("all checks passed: the scores can be trusted" if report.passed else failed)
    return 0 if report.passed else 1


def add_check_command(commands) -> None:
    """`check MODEL`: conformance of a model or endpoint before a long run (typicality.scoring.check)."""
    parser = commands.add_parser("check", help="check that a model's or server's scores can be trusted (BOS, join, batching, dtype, echo)")
    parser.add_argument(
        "model", metavar="MODEL", help="as for --model: gemma-3-270m, a Hugging Face id, a folder, a .gguf file, vllm:MODEL, or openai:URL#MODEL"
    )
    add_model_options(parser, model_flag=False)
    parser.add_argument("--against", metavar="MODEL", help="also compare per-token log-probabilities with a second model (e.g. the in-process one)")
    parser.add_argument(
        "--against-tolerance",
        type=float,
        default=0.1,
        metavar="NATS",
        help="--against: mean per-token difference allowed (default 0.1; a quantized server "
             "against a float32 copy of its weights differs by ~0.1, so use ~0.25 there)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(run=cmd_check)


def cmd_export(args: argparse.Namespace) -> int:
    result = typicality.export(args.audit_dir, args.out, format=args.format, alpha=args.alpha, estimate=args.estimate, ties=args.tie_rows, force=args.force)
    choice = result.choice
    say(f"wrote {result.n_rows} pairs to {result.data_file} and the dataset card {result.card_file}")
    say(f"removed alpha {choice.alpha:.4g}: {choice.reason}; {result.n_flips} pairs change the favoured response without typicality")
    return 0


def add_export_command(commands) -> None:
    """`export`: a finished audit -> a typicality-debiased preference dataset (typicality.debiased_export)."""
    parser = commands.add_parser("export", help="write a typicality-debiased preference dataset (TRL format + margin, weights, flips) from a finished audit")
    parser.add_argument("audit_dir", help="a finished audit folder (results.json, pairs.parquet and the data files)")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (the data file and README.md, a dataset card)")
    parser.add_argument("--format", choices=["parquet", "jsonl"], default="parquet", help="data file format (default parquet)")
    parser.add_argument(
        "--alpha",
        metavar="ci-low|ci-high|VALUE",
        help="the alpha to remove: an end of the fit's 95%% CI or a number (default: the "
             "headline fit's estimate, quality-controlled when the data rates quality)",
    )
    parser.add_argument("--estimate", metavar="ID", help="take alpha from this results.json estimate id instead of the headline")
    # Not --ties: that is fit's {drop, half}, how the fit treats ties; this is which rows the export writes.
    parser.add_argument("--tie-rows", choices=["drop", "both"], default="drop", help="drop tied pairs (default) or write each once each way")
    parser.add_argument("--ties", dest="tie_rows", choices=["drop", "both"], action=RenamedOption, new_name="--tie-rows")
    parser.add_argument("--force", action="store_true", help="replace an export folder typicality wrote (never a folder holding other files)")
    parser.set_defaults(run=cmd_export)


def cmd_influence(args: argparse.Namespace) -> int:
    typicality.output_folder.check_writable_folder(args.audit_dir, "influence.json and influence.parquet")
    exact = {} if args.exact_max_prompts is None else {"exact_max_prompts": args.exact_max_prompts}
    summary = typicality.pipeline.write_influence(args.audit_dir, estimate=args.estimate, strict=True, **exact).summary
    cv3, top = summary.cv3, summary.without_top_prompts  # plain mappings inside the InfluenceSummary
    say(
        f"influence on alpha = {summary.alpha:.4f} ({summary.estimate}): {summary.n_pairs} "
        f"pairs, {summary.n_prompts} prompts (leave-one-prompt-out: {summary.prompt_method})"
    )
    if cv3["se"] is not None:
        say(f"CV3 jackknife SE {cv3['se']:.4f} (sandwich SE {summary.cv1_se:.4f}); 95% CI {cv3['ci_low']:.4f} to {cv3['ci_high']:.4f}")
    if top["fitted"]:
        say(f"without the top {top['n_prompts_removed']} prompts ({100 * top['share']:g}%): alpha {top['alpha']:.4f} (SE {top['se']:.4f})")
    folder = typicality.audit_folder
    say(f"wrote {Path(args.audit_dir) / folder.INFLUENCE_SUMMARY_FILE} and {folder.INFLUENCE_FILE}; `typicality report {args.audit_dir}` re-renders the report")
    return 0


def add_influence_command(commands) -> None:
    """`influence`: recompute the pairs' and prompts' influence on alpha for an existing audit (typicality.stats.influence)."""
    parser = commands.add_parser("influence", help="recompute the influence of each pair and prompt on alpha (influence.parquet) for a finished audit")
    parser.add_argument("audit_dir", help="a finished audit folder (results.json and pairs.parquet)")
    parser.add_argument("--estimate", metavar="ID", help="a results.json estimate id (default: the headline)")
    # No default here: importing the stats stage to read it would slow every `typicality` command.
    parser.add_argument(
        "--exact-max-prompts",
        type=int,
        metavar="N",
        help="exact leave-one-prompt-out refits up to N prompts, one-step beyond (default: typicality.stats.influence.EXACT_MAX_PROMPTS, 3,000)",
    )
    parser.set_defaults(run=cmd_influence)


def cmd_explain(args: argparse.Namespace) -> int:
    typicality.output_folder.check_writable_folder(args.audit_dir, "tokens.json and the report")
    view = typicality.explain(args.audit_dir, pairs=args.pairs, pair=args.pair)
    print(repr(view))
    largest = view.content["max_sum_difference"]
    print(f"each response's tokens add up to the audit's cached sum within {largest:.2g} nats")
    print(f"wrote {view.path}; the report ({Path(args.audit_dir) / 'report.html'}) now shows the token view")
    return 0


def add_explain_command(commands) -> None:
    """`explain`: a few pairs' responses token by token under the audit's model (typicality.explanation)."""
    parser = commands.add_parser("explain", help="show why responses are typical: re-score a few pairs token by token (tokens.json, the report's token view)")
    parser.add_argument("audit_dir", help="a finished audit folder (with its data, scores and pairs)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pairs", type=int, metavar="N", help="the N pairs whose removal moves alpha most (influence.parquet; default 5)")
    which.add_argument("--pair", type=int, metavar="ID", help="one pair, by its comparison number (pairs.parquet's `comparison` column)")
    parser.set_defaults(run=cmd_explain)


def cmd_compare(args: argparse.Namespace) -> int:
    out = Path(args.out)  # checked by compare(): a new folder, or (--force) a comparison folder holding nothing else
    comparison = typicality.compare(args.audits, kind=args.kind, effect=args.effect, labels=args.labels, out=out, force=args.force)  # typed ComparisonResults
    if args.json:
        print(json.dumps(comparison.to_dict(), indent=2))
        return 0
    for sentence in typicality.report.summary_sentences(comparison):
        say(sentence)
    for warning in comparison.warnings:
        say(f"warning: {warning}")
    folder = typicality.comparison_folder
    say(f"wrote {out / folder.COMPARISON_FILE}, {out / folder.COMPARISON_MARKDOWN_FILE} and {out / folder.COMPARISON_HTML_FILE}")
    return 0


def add_compare_command(commands) -> None:
    """`compare`: several finished audits, as a model comparison (same pairs) or a dataset comparison."""
    parser = commands.add_parser(
        "compare", help="compare finished audits: one dataset under several reference models, the same pairs under several label sources, or several datasets"
    )
    parser.add_argument("audits", nargs="+", metavar="AUDIT_DIR", help="two or more finished audit folders")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="the comparison folder to write (comparison.json, comparison.md, comparison.html, figures/)"
    )
    parser.add_argument(
        "--kind",
        choices=("auto", "models", "datasets", "labels"),
        default="auto",
        help="auto (default): models when every audit is of the same data (by provenance; they must share their pairs and labels), "
        "labels when the same pairs carry different labels under one model (label sources), else datasets",
    )
    parser.add_argument(
        "--effect",
        choices=("headline", "length-controlled"),
        default="headline",
        help="the fit compared: each audit's headline (default) or its length-controlled twin",
    )
    parser.add_argument("--labels", nargs="+", metavar="NAME", help="a name per audit (default: the folder names)")
    parser.add_argument("--force", action="store_true", help="replace a comparison folder typicality wrote (never a folder holding other files)")
    parser.add_argument("--json", action="store_true", help="print comparison.json instead of sentences")
    parser.set_defaults(run=cmd_compare)


def cmd_plan(args: argparse.Namespace) -> int:
    common = {"significance": args.significance, "target_power": args.power}
    if args.audit:
        given = [
            flag
            for flag, value in (
                ("--odds-ratio", args.odds_ratio),
                ("--sd-delta", args.sd_delta),
                ("--n-pairs", args.n_pairs),
                ("--pairs-per-prompt", args.pairs_per_prompt),
                ("--icc", args.icc),
                ("--tie-share", args.tie_share),
                ("--r2-controls", args.r2_controls),
            )
            if value is not None
        ]
        if given:
            raise TypicalityError(
                f"With an audit folder the design comes from the audit; drop {', '.join(given)} (only --alpha, --power and --significance apply)."
            )
        result = typicality.plan_from_audit(typicality.read_audit(args.audit, with_data=False), alpha=args.alpha, **common)
    else:
        assumed = {
            "sd_delta": args.sd_delta,
            "pairs": args.n_pairs,
            "pairs_per_prompt": args.pairs_per_prompt,
            "icc": args.icc,
            "tie_share": args.tie_share,
            "r2_controls": args.r2_controls,
        }
        stated = {name: value for name, value in assumed.items() if value is not None}
        result = typicality.plan(alpha=args.alpha, odds_ratio_per_sd=args.odds_ratio, **stated, **common)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    console = DataConsole(width=140)
    console.print(result.sentence(), highlight=False)
    for note in result.notes:
        console.print(note, highlight=False)
    table = Table(
        title=f"Power for alpha = {result.alpha:.3g} (design effect {result.design_effect:.2f}; "
              f"one independent pair per {result.pairs / result.effective_pairs:.2f} planned)"
    )
    for column in ("pairs", "prompts", "power"):
        table.add_column(column, justify="right")
    for row in result.table:
        table.add_row(f"{row['pairs']:,}", f"{row['prompts']:,}", f"{row['power']:.1%}")
    console.print(table)
    return 0


def add_plan_command(commands) -> None:
    """`plan`: power and minimum detectable alpha of a planned audit."""
    parser = commands.add_parser("plan", help="power, pairs needed and minimum detectable alpha of a planned audit (assumed values, or a finished audit)")
    parser.add_argument("audit", nargs="?", help="a finished audit folder: plan from its alpha, SD of Δℓ, pairs per prompt, ties, controls and clustering")
    parser.add_argument("--alpha", type=float, help="the true alpha to detect (per nat of Δℓ; with an audit: instead of its headline alpha)")
    parser.add_argument("--odds-ratio", type=float, metavar="OR", help="the effect as an odds ratio per SD of Δℓ, instead of --alpha")
    parser.add_argument("--sd-delta", type=float, metavar="SD", help="SD of Δℓ (default 1; the audit of a similar dataset reports it)")
    parser.add_argument("--n-pairs", type=int, metavar="N", help="planned comparisons, ties included (default 1000)")
    parser.add_argument("--pairs", dest="n_pairs", type=int, action=RenamedOption, new_name="--n-pairs")
    parser.add_argument("--pairs-per-prompt", type=float, metavar="M", help="comparisons per prompt (default 1)")
    parser.add_argument("--icc", type=float, help="intra-prompt correlation of the pairs (default 0)")
    parser.add_argument("--tie-share", type=float, metavar="T", help="share of comparisons that tie and are dropped (default 0)")
    parser.add_argument("--r2-controls", type=float, metavar="R2", help="share of Δℓ's variance explained by the controls (default 0)")
    parser.add_argument("--power", type=float, default=0.8, help="target power (default 0.8)")
    parser.add_argument("--significance", type=float, default=0.05, help="two-sided test level (default 0.05)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(run=cmd_plan)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="typicality", description="Audit preference datasets for typicality bias.")
    commands = parser.add_subparsers(dest="command", required=True)

    datasets_parser = commands.add_parser("datasets", help="list the registered dataset loaders")
    datasets_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    datasets_parser.set_defaults(run=cmd_datasets)

    inspect_parser = commands.add_parser("inspect", help="load a dataset and print its counts")
    add_loader_options(inspect_parser)
    inspect_parser.add_argument("--json", action="store_true", help="print one JSON object")
    inspect_parser.set_defaults(run=cmd_inspect)

    report_parser = commands.add_parser("report", help="re-render report.md, report.html and figures/ from a finished audit folder")
    report_parser.add_argument("folder", help="an audit folder (holds results.json, pairs.parquet, scores.parquet, ...)")
    report_parser.set_defaults(run=cmd_report)

    add_stats_commands(commands)
    add_score_command(commands)
    add_merge_cache_command(commands)
    add_check_command(commands)
    add_audit_command(commands)
    add_export_command(commands)
    add_influence_command(commands)
    add_explain_command(commands)
    add_compare_command(commands)
    add_plan_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TypicalityError as error:
        say(f"typicality: error: {error}", stderr=True)
        return 2
    except KeyboardInterrupt:
        say("typicality: interrupted; finished work is kept (re-run to resume).", stderr=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
