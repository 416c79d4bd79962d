"""Reading a source through `datasets`: the hub by default, local files on request.

Every failure a user can cause (no file, a malformed line, a missing column, no network)
becomes one `TypicalityError` naming the input and the fix. Every read also returns its
provenance: the hub dataset and the commit it resolved to, or the path, size and sha256 of
each local file.

A machine that cannot reach the Hugging Face Hub is told so within seconds: before asking
`datasets` (whose retries take about 30 s), one short request checks that the hub answers.
When it does not, a copy `datasets` has cached is still used (as in offline mode); only
without one is the load refused, naming `--data-files`. `HF_HUB_OFFLINE=1` (or
`HF_DATASETS_OFFLINE=1`) skips the check and reads the cache alone; `HF_ENDPOINT` is the hub
that is checked.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import datasets

from typicality.data.request import LoadRequest, builder_for, is_remote, local_files
from typicality.errors import TypicalityError, one_line

# Seconds the hub (or a remote file's server) has to answer the reachability check.
REACHABILITY_TIMEOUT_S = 5.0
COMMIT_SHA = re.compile(r"[0-9a-f]{40}")


def read_rows(
    request: LoadRequest,
    hub_id: str | None,
    required: list[str],
    split: str,
    hub_kwargs: dict | None = None,
    features: datasets.Features | None = None,
) -> tuple[datasets.Dataset, list[dict]]:
    """The source's rows (with `request.columns` renames applied and `required` checked) and their provenance.

    `features`: the schema of local or remote files, for sources whose records leave optional
    nested keys out (the JSON reader infers one schema per block and refuses the next block's).
    """
    if request.data_files:
        dataset, provenance = _read_local(request.data_files, features)
        where = ", ".join(request.data_files)
    elif hub_id is None:
        raise TypicalityError(
            "This dataset has no hub id: pass --data-files PATH, a local file or a Hub file as "
            "hf://datasets/OWNER/NAME/FILE."
        )
    else:
        dataset, hub_entry = _read_hub(hub_id, split, hub_kwargs or {}, request.revision)
        provenance, where = [hub_entry], hub_id
    dataset = _rename(dataset, request.columns, where)
    missing = [column for column in required if column not in dataset.column_names]
    if missing:
        raise TypicalityError(
            f"{where}: missing column(s) {', '.join(missing)}. Expected {', '.join(required)}; "
            f"found {', '.join(dataset.column_names)}. Map other names with --columns new=old."
        )
    return dataset, provenance


def _read_local(patterns: tuple[str, ...], features: datasets.Features | None = None) -> tuple[datasets.Dataset, list[dict]]:
    files: list[str] = []
    for pattern in patterns:
        if is_remote(pattern):  # a remote file (hf://datasets/owner/name/file.parquet, https://...): datasets fetches it
            _refuse_if_unreachable(pattern)
            files.append(pattern)
            continue
        matches = local_files(pattern)
        if not matches:
            raise TypicalityError(f"No such file: {pattern}.")
        files.extend(matches)
    builders = {builder_for(path) for path in files}
    if len(builders) > 1:
        raise TypicalityError(f"--data-files mixes formats ({', '.join(sorted(builders))}); give files of one format.")
    builder = builders.pop()
    if builder in ("json", "csv"):
        for path in files:
            if not is_remote(path):
                _check_text_lines(path, json_lines=builder == "json")
    kwargs = {"delimiter": "\t"} if all(str(f).endswith((".tsv", ".tsv.gz")) for f in files) else {}
    # datasets reads data_files as glob patterns: a local path is escaped so that `[`, `*` or `?` in a name stay literal.
    patterns = [path if is_remote(path) else glob.escape(path) for path in files]
    try:
        dataset = datasets.load_dataset(builder, data_files=patterns, split="train", features=features, **kwargs)
    except Exception as error:  # datasets wraps parser errors in several types; the innermost says what is wrong
        raise TypicalityError(f"Could not read {', '.join(files)} as {builder}: {one_line(_root_cause(error), 300)}") from error
    return dataset, [_file_provenance(path) for path in files]


def _file_provenance(path: str) -> dict:
    """Where a file came from: its absolute path, size and sha256 (a remote file: its URL)."""
    if is_remote(path):
        return {"kind": "url", "url": path}
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"kind": "file", "path": str(Path(path).resolve()), "sha256": digest.hexdigest(), "bytes": os.path.getsize(path)}


def _check_text_lines(path: str, json_lines: bool) -> None:
    """Name the file and line of the first non-UTF-8 bytes or (JSON lines) malformed JSON line.

    `datasets` reports such errors without a line number; this pass exists only to give
    the user the exact place to fix. A file whose first character is not `{` (a CSV file, a
    .json array) is checked for UTF-8 only; its JSON is left to datasets.
    """
    opener = gzip.open if path.endswith(".gz") else open
    is_csv = not json_lines
    lines_with_text = 0
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
                if text.strip():
                    lines_with_text += 1
                if not json_lines or not text.strip():
                    continue
                try:
                    json.loads(text)
                except json.JSONDecodeError as error:
                    raise TypicalityError(f"{path}, line {number}: malformed JSON ({error.msg}, column {error.colno}).") from None
    except (OSError, EOFError) as error:
        raise TypicalityError(f"{path}: cannot read the file ({error}).") from None
    # datasets fails on these without naming the file (StopIteration; `Instruction "train" corresponds to no data!`).
    if lines_with_text == 0:
        raise TypicalityError(f"{path}: the file is empty (no rows). Give a file with at least one row, or leave it out of --data-files.")
    if is_csv and lines_with_text == 1:
        raise TypicalityError(f"{path}: the file has a header line but no rows. Give a file with at least one row, or leave it out of --data-files.")


def _read_hub(hub_id: str, split: str, hub_kwargs: dict, revision: str | None) -> tuple[datasets.Dataset, dict]:
    """A hub dataset's split and its provenance, the commit it resolved to included."""
    what = f"'{hub_id}' ({' '.join(f'{k}={v}' for k, v in hub_kwargs.items()) or 'default'}, split {split})"
    fix = "Without internet access, download the original files and pass them with --data-files PATH."
    offline = bool(datasets.config.HF_HUB_OFFLINE)
    unreachable = None if offline else unreachable_reason(datasets.config.HF_ENDPOINT)
    try:
        with _offline_mode(unreachable is not None):
            builder = datasets.load_dataset_builder(hub_id, revision=revision, **hub_kwargs)
            builder.download_and_prepare()
            dataset = builder.as_dataset(split=split)
    except Exception as error:  # no network, no cached copy, unknown split, gated repo...
        if unreachable is not None:
            raise TypicalityError(
                f"Cannot reach the Hugging Face Hub at {datasets.config.HF_ENDPOINT} ({unreachable}) to load {what}, "
                f"and no copy of it is cached. {fix}"
            ) from error
        if offline:
            raise TypicalityError(
                f"Offline mode is on (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE) and no cached copy of {what} was found "
                f"({one_line(error)}). {fix}"
            ) from error
        raise TypicalityError(f"Could not load {what} from the Hugging Face Hub: {one_line(error, 300)}. {fix}") from error
    resolved = builder.hash if isinstance(builder.hash, str) and COMMIT_SHA.fullmatch(builder.hash) else revision
    return dataset, {"kind": "hub", "id": hub_id, **hub_kwargs, "split": split, "revision": resolved}


@contextlib.contextmanager
def _offline_mode(on: bool):
    """While `on`, `datasets` reads its cache without trying the network (as HF_HUB_OFFLINE=1 does)."""
    if not on:
        yield
        return
    before = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = before


def unreachable_reason(url: str, timeout: float | None = None) -> str | None:
    """None when the server at `url` answers at all (any HTTP status) within `timeout` seconds; otherwise why not.

    The request runs in a daemon thread so that a slow name lookup, which socket timeouts do
    not bound, cannot hold the user up either.
    """
    timeout = REACHABILITY_TIMEOUT_S if timeout is None else timeout
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}/"
    outcome: list[str | None] = []

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(origin, method="HEAD"), timeout=timeout).close()
            outcome.append(None)
        except urllib.error.HTTPError:  # it answered, if only to refuse
            outcome.append(None)
        except Exception as error:  # no route, no name, refused, timed out
            reason = getattr(error, "reason", error)
            outcome.append(one_line(reason) if isinstance(reason, BaseException) else str(reason))

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if not outcome:
        return f"no answer within {timeout:.0f} s"
    return outcome[0]


def _refuse_if_unreachable(path: str) -> None:
    """A remote data file's server must answer first (hf:// files live on the hub)."""
    if datasets.config.HF_HUB_OFFLINE:  # datasets serves a cached copy or fails at once
        return
    url = datasets.config.HF_ENDPOINT if path.startswith("hf://") else path
    reason = unreachable_reason(url)
    if reason is not None:
        raise TypicalityError(
            f"Cannot reach {urllib.parse.urlsplit(url).netloc} ({reason}) to fetch {path}. "
            "Download the file and pass its local path with --data-files."
        )


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
