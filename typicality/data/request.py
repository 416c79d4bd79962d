"""`LoadRequest`: what to load and how, as one object that can be checked before any data is read.

Every command that reads data builds one (the CLI from its loader options, Python callers with
`typicality.data.load(...)` keywords). Building one refuses, with one clear `TypicalityError`,
every mistake knowable without looking at the disk, so a `LoadRequest` that exists is valid and
nothing downstream checks it again; `preflight()` adds the one check that looks at the machine
(the local files exist and are of one format), so an audit never starts on a request that cannot succeed.
"""

from __future__ import annotations

import glob
import os
from dataclasses import asdict, dataclass, field, fields

from typicality.data.label_spec import parse_label_spec
from typicality.data.registry import get_loader
from typicality.errors import TypicalityError

# File suffix -> the `datasets` builder that reads it (`.gz` may follow any of them).
BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".tsv": "csv"}


@dataclass(frozen=True)
class LoadRequest:
    """The loader options shared by every command.

    `data_files`: local copies in the source's original format (globs allowed) or remote files
    (`hf://datasets/...`); empty = the source's hub id. `subset`/`split`: None = the loader's
    default. `limit`: a seeded random sample of that many whole prompt groups. `columns`:
    canonical name -> the file's column name. `rating`: rated sources, the rating that decides
    preferences; `correctness`: the rating that stands for true quality (default: the loader's).
    `revision`: a hub branch, tag or commit, passed to `datasets.load_dataset(revision=...)`.
    `preference`: sources that judged the same pairs more than one way (the loader's
    `preference_choices`, e.g. PKU-SafeRLHF's better or safer): which judgement is the label;
    None = the loader's first.
    `label`: the generic `pairs` loader, what a preference column means in the data's own terms
    (`typicality.data.label_spec`: `better_response_id=0:a,1:b`, `onehot:a=...,b=...,tie=...`).
    """

    dataset: str
    data_files: tuple[str, ...] = ()
    subset: str | None = None
    split: str | None = None
    limit: int | None = None
    seed: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    rating: str | None = None
    revision: str | None = None
    correctness: str | None = None
    preference: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        # Accept one path or a list where a tuple is meant; a frozen dataclass sets through object.
        files = self.data_files
        if files is None:
            files = ()
        elif isinstance(files, (str, os.PathLike)):
            files = (files,)
        object.__setattr__(self, "data_files", tuple(str(path) for path in files))
        object.__setattr__(self, "columns", dict(self.columns or {}))
        self._check()

    @property
    def where(self) -> str:
        """The source in words, for messages: the files given, or the hub."""
        return ", ".join(self.data_files) or "the Hugging Face Hub"

    def preflight(self) -> LoadRequest:
        """Refuse local --data-files that do not exist or mix formats (the check that looks at the disk); returns self."""
        self._check_files()
        return self

    def _check(self) -> None:
        """Refuse, with one clear message, everything wrong that is knowable without the disk (run when built)."""
        spec = get_loader(self.dataset)  # an unknown name is refused there, with the known names
        self._check_numbers()
        if self.subset is not None and spec.subsets and self.subset not in spec.subsets:
            raise TypicalityError(f"Dataset '{self.dataset}' has no subset '{self.subset}'. Its subsets: {', '.join(spec.subsets)}.")
        if self.rating is not None or self.correctness is not None:
            self._check_ratings(spec)
        if self.preference is not None:
            self._check_preference(spec)
        if not self.data_files and spec.hub_id is None:
            raise TypicalityError(
                f"Dataset '{self.dataset}' reads your own file: pass --data-files PATH (a local file, or a Hub "
                "file as hf://datasets/OWNER/NAME/FILE)."
            )
        if self.data_files and self.revision is not None:
            raise TypicalityError(
                f"--revision {self.revision} picks a version of a hub dataset, but --data-files reads local files; drop one of them."
            )
        for name, value in (("subset", self.subset), ("split", self.split), ("revision", self.revision)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise TypicalityError(f"--{name} must be a non-empty name, got {value!r}.")
        self._check_columns()
        if self.label is not None:
            self._check_label()

    def to_dict(self) -> dict:
        """A JSON-able dict (lists for tuples), e.g. for an audit's in-progress marker."""
        as_dict = asdict(self)
        as_dict["data_files"] = list(self.data_files)
        return as_dict

    @classmethod
    def from_dict(cls, values: dict) -> LoadRequest:
        """The request `to_dict` wrote; unknown keys are refused (a marker from another version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypicalityError(f"Unknown load option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
        if "dataset" not in values:
            raise TypicalityError("A load request needs a dataset name.")
        return cls(**{**values, "data_files": tuple(values.get("data_files") or ())})

    def _check_numbers(self) -> None:
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1):
            raise TypicalityError(f"--limit must be a whole number of prompts, at least 1; got {self.limit!r}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypicalityError(f"--seed must be a whole number, got {self.seed!r}.")

    def _check_ratings(self, spec) -> None:
        if spec.kind != "rated":
            given = "--rating" if self.rating is not None else "correctness"
            raise TypicalityError(
                f"Dataset '{self.dataset}' is pairwise (its preference: {spec.preference}); {given} applies only to rated "
                "sources. Drop it."
            )
        if not spec.ratings:  # a generic file: its columns are known only once it is read
            return
        for option, column in (("--rating", self.rating), ("correctness", self.correctness)):
            if column is not None and column not in spec.ratings:
                raise TypicalityError(f"Dataset '{self.dataset}' has no rating '{column}' for {option}. Choose from: {', '.join(spec.ratings)}.")

    def _check_preference(self, spec) -> None:
        if not spec.preference_choices:
            raise TypicalityError(
                f"Dataset '{self.dataset}' has one preference judgement ({spec.preference}); --preference applies only to "
                "sources that judged the same pairs more than one way. Drop it."
            )
        if self.preference not in spec.preference_choices:
            raise TypicalityError(
                f"Dataset '{self.dataset}' has no preference '{self.preference}'. Choose from: {', '.join(spec.preference_choices)}."
            )

    def _check_columns(self) -> None:
        for new, old in self.columns.items():
            if not isinstance(new, str) or not isinstance(old, str) or not new.strip() or not old.strip():
                raise TypicalityError(f"--columns expects new=old names, got {new!r}={old!r}.")

    def _check_label(self) -> None:
        if self.dataset != "pairs":
            raise TypicalityError(
                f"--label states what a preference column means for the generic 'pairs' loader; dataset '{self.dataset}' "
                "reads its own preference. Drop --label."
            )
        parse_label_spec(self.label)  # a malformed spec is refused there, with the forms

    def _check_files(self) -> None:
        builders = set()
        for pattern in self.data_files:
            if is_remote(pattern):  # fetched by datasets; reachability is checked when reading
                builders.add(builder_for(pattern))
                continue
            matches = local_files(pattern)
            if not matches:
                raise TypicalityError(f"No such file: {pattern} (--data-files). Check the path.")
            builders.update(builder_for(path) for path in matches)
        if len(builders) > 1:
            raise TypicalityError(f"--data-files mixes formats ({', '.join(sorted(builders))}); give files of one format.")


def local_files(pattern: str) -> list[str]:
    """The local files a --data-files entry names: the file itself when that path exists as given
    (a name may hold glob characters: `x[1].jsonl`), else the files its glob pattern matches, sorted."""
    path = os.path.expanduser(pattern)
    if os.path.exists(path):
        return [path]
    return sorted(glob.glob(path))


def is_remote(path: str) -> bool:
    """A file `datasets` fetches (hf://datasets/..., https://...) rather than reads from disk."""
    return "://" in path


def builder_for(path: str) -> str:
    """The `datasets` builder that reads a file, from its suffix."""
    name = path[:-3] if path.endswith(".gz") else path
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in BUILDERS:
        raise TypicalityError(f"{path}: unknown file type '{suffix}'. Use .jsonl, .json, .parquet, .csv or .tsv (optionally .gz).")
    return BUILDERS[suffix]


def parse_columns(text: str | None) -> dict[str, str]:
    """Parse `--columns new=old,new2=old2` into {new: old}."""
    if not text:
        return {}
    mapping = {}
    for item in text.split(","):
        new, _, old = (part.strip() for part in item.partition("="))
        if not new or not old:
            raise TypicalityError(f"--columns expects new=old pairs separated by commas, got '{item}'.")
        mapping[new] = old
    return mapping
