"""The `typicality` command: each sub-command wires public API functions, nothing more."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from typicality.errors import TypicalityError


def add_loader_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that reads a dataset shares."""
    parser.add_argument("dataset", help="a registered dataset name (see `typicality datasets`)")
    parser.add_argument("--data-files", nargs="+", metavar="PATH", help="local file(s) in the source's original format instead of the hub")
    parser.add_argument("--subset", help="the source's subset (e.g. helpful-base for hh-rlhf)")
    parser.add_argument("--split", help="the split to read from the hub (default: the loader's)")
    parser.add_argument("--limit", type=int, metavar="N", help="keep a seeded random sample of N whole prompt groups")
    parser.add_argument("--seed", type=int, default=0, help="seed for --limit (default 0)")
    parser.add_argument("--columns", metavar="NEW=OLD,...", help="map the file's column names to the ones the loader expects")
    parser.add_argument("--rating", help="rated sources: the rating column that decides preferences")


def load_from_args(args: argparse.Namespace):
    from typicality.data import load, parse_columns

    options = {"rating": args.rating} if getattr(args, "rating", None) else {}
    return load(
        args.dataset,
        data_files=args.data_files,
        subset=args.subset,
        split=args.split,
        limit=args.limit,
        columns=parse_columns(args.columns),
        seed=args.seed,
        **options,
    )


def cmd_datasets(args: argparse.Namespace) -> int:
    from typicality.data import all_loaders

    loaders = all_loaders()
    if args.json:
        print(json.dumps([_loader_row(spec) for spec in loaders], indent=2))
        return 0
    table = Table(title="Registered datasets")
    for column in ("name", "hub id", "kind", "subsets", "preference signal", "controls"):
        table.add_column(column)
    for spec in loaders:
        row = _loader_row(spec)
        table.add_row(row["name"], row["hub_id"] or "-", row["kind"], ", ".join(row["subsets"]) or "-", row["preference"], ", ".join(row["controls"]) or "-")
    Console(width=200).print(table)
    return 0


def _loader_row(spec) -> dict:
    return {
        "name": spec.name,
        "hub_id": spec.hub_id,
        "kind": spec.kind,
        "subsets": list(spec.subsets),
        "preference": spec.preference,
        "controls": list(spec.controls),
    }


def cmd_inspect(args: argparse.Namespace) -> int:
    data = load_from_args(args)
    summary = data.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    console = Console(width=120)
    table = Table(title=f"{data.name} ({data.source})", show_header=False)
    for key in ("kind", "subset", "split", "n_rows", "n_prompts", "n_responses", "n_comparisons", "n_ties"):
        table.add_row(key, str(summary[key]))
    for reason, count in summary["dropped"].items():
        table.add_row(f"dropped: {reason}", str(count))
    for name in ("prompt_chars_quantiles", "response_chars_quantiles"):
        table.add_row(name.replace("_", " "), ", ".join(f"{k}={v:.0f}" for k, v in summary[name].items()))
    for note in summary["notes"]:
        table.add_row("note", note)
    console.print(table)
    return 0


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except TypicalityError as error:
        print(f"typicality: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("typicality: interrupted; finished work is kept (re-run to resume).", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
