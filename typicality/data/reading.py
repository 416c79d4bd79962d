"""Reading a source through `datasets.load_dataset`: the hub by default, local files on request.

Every failure a user can cause (no file, a malformed line, a missing column, no network)
becomes one `TypicalityError` naming the input and the fix.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
from pathlib import Path

import datasets

from typicality.data.registry import LoadRequest
from typicality.errors import TypicalityError

# File suffix -> the `datasets` builder that reads it.
BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


def read_rows(
    request: LoadRequest,
    hub_id: str | None,
    required: list[str],
    split: str,
    hub_kwargs: dict | None = None,
) -> datasets.Dataset:
    """The source's rows as a `datasets.Dataset`, with `request.columns` renames applied and `required` checked."""
    if request.data_files:
        dataset, where = _read_local(request.data_files), ", ".join(request.data_files)
    elif hub_id is None:
        raise TypicalityError(
            "This dataset has no hub id: pass --data-files PATH, a local file or a Hub file as "
            "hf://datasets/OWNER/NAME/FILE."
        )
    else:
        dataset, where = _read_hub(hub_id, split, hub_kwargs or {}), hub_id
    dataset = _rename(dataset, request.columns, where)
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise TypicalityError(
            f"{where}: missing column(s) {', '.join(missing)}. Expected {', '.join(required)}; "
            f"found {', '.join(dataset.column_names)}. Map other names with --columns new=old."
        )
    return dataset


def _read_local(patterns: tuple[str, ...]) -> datasets.Dataset:
    files: list[str] = []
    for pattern in patterns:
        if "://" in pattern:  # a remote file (hf://datasets/owner/name/file.parquet, https://...): datasets fetches it
            files.append(pattern)
            continue
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        if not matches:
            raise TypicalityError(f"No such file: {pattern}.")
        files.extend(matches)
    builders = {_builder_for(path) for path in files}
    if len(builders) > 1:
        raise TypicalityError(f"--data-files mixes formats ({', '.join(sorted(builders))}); give files of one format.")
    builder = builders.pop()
    if builder in ("json", "csv"):
        for path in files:
            if "://" not in path:
                _check_text_lines(path, json_lines=builder == "json")
    kwargs = {"delimiter": "\t"} if all(str(f).endswith((".tsv", ".tsv.gz")) for f in files) else {}
    try:
        return datasets.load_dataset(builder, data_files=files, split="train", **kwargs)
    except Exception as error:  # datasets wraps parser errors in several types; the innermost says what is wrong
        raise TypicalityError(f"Could not read {', '.join(files)} as {builder}: {_first_line(_root_cause(error))}") from error


def _builder_for(path: str) -> str:
    name = path[:-3] if path.endswith(".gz") else path
    suffix = Path(name).suffix.lower()
    if suffix not in BUILDERS:
        raise TypicalityError(f"{path}: unknown file type '{suffix}'. Use .jsonl, .json, .parquet, .csv or .tsv (optionally .gz).")
    return BUILDERS[suffix]


def _check_text_lines(path: str, json_lines: bool) -> None:
    """Name the file and line of the first non-UTF-8 bytes or (JSON lines) malformed JSON line.

    `datasets` reports such errors without a line number; this pass exists only to give
    the user the exact place to fix. A file whose first character is not `{` (a CSV file, a
    .json array) is checked for UTF-8 only; its JSON is left to datasets.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            if json_lines:
                first = handle.read(1)
                while first in (b" ", b"\n", b"\r", b"\t"):
                    first = handle.read(1)
                json_lines = first == b"{"
                handle.seek(0)
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise TypicalityError(f"{path}, line {number}: not UTF-8 text ({error.reason} at byte {error.start}).") from None
                if not json_lines or not text.strip():
                    continue
                try:
                    json.loads(text)
                except json.JSONDecodeError as error:
                    raise TypicalityError(f"{path}, line {number}: malformed JSON ({error.msg}, column {error.colno}).") from None
    except (OSError, EOFError) as error:
        raise TypicalityError(f"{path}: cannot read the file ({error}).") from None


def _read_hub(hub_id: str, split: str, hub_kwargs: dict) -> datasets.Dataset:
    try:
        return datasets.load_dataset(hub_id, split=split, **hub_kwargs)
    except Exception as error:  # no network, unknown split, gated repo...
        where = " ".join(f"{k}={v}" for k, v in hub_kwargs.items())
        raise TypicalityError(
            f"Could not load '{hub_id}' ({where or 'default'}, split {split}) from the Hugging Face Hub: "
            f"{_first_line(error)}. Without internet access, download the original files and pass them "
            f"with --data-files PATH."
        ) from error


def _rename(dataset: datasets.Dataset, columns: dict[str, str], where: str) -> datasets.Dataset:
    if not columns:
        return dataset
    unknown = [old for old in columns.values() if old not in dataset.column_names]
    if unknown:
        raise TypicalityError(
            f"{where}: --columns names {', '.join(unknown)}, which the file lacks; found {', '.join(dataset.column_names)}."
        )
    renames = {old: new for new, old in columns.items() if old != new}
    clashing = [new for old, new in renames.items() if new in dataset.column_names and new not in renames]
    if clashing:
        dataset = dataset.remove_columns(clashing)
    return dataset.rename_columns(renames)


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
