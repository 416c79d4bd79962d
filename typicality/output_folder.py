"""Output folders: which folders the tool owns, and writing one so that a failure leaves nothing in the way.

Every folder a command writes (an audit, an export, a comparison) carries `MARKER_FILE`, a small
JSON file naming the kind of folder and the files the tool wrote into it. The rules, for every command:

- `--out` may be a new folder, an empty one, or (with `--force`) a folder the tool wrote, of the same
  kind, holding nothing but what the tool writes there; anything else is refused with a list of what is
  there. It is never a symbolic link, a file, the current directory, the home folder, a filesystem root,
  an input, or a folder holding one of these: those are refused even with `--force`.
- A folder is written into a staging folder beside `--out` (`.NAME.typicality-staging/NAME`: the same
  file system, and the same name, so a report names its folder as it will be) and renamed into place
  once complete. A failed run removes its staging folder, so the corrected command finds nothing in its
  way (scores live in the score cache, so nothing computed is lost); a folder replaced with `--force`
  stays whole until the new one is.
- Folders written before the marker existed are recognised by a versioned file of their own
  (`FolderKind.recognise`), so `--force` still replaces them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from typicality.errors import TypicalityError, one_line

MARKER_FILE = ".typicality-folder.json"
STAGING_SUFFIX = ".typicality-staging"
# Inside a staging folder: which process is writing it (a second run into the same --out waits for none: it is refused).
RUN_FILE = "run.json"
# How many of the entries the tool did not write a refusal names (then "and N more").
LISTED_ENTRIES = 5


@dataclass(frozen=True)
class FolderKind:
    """A kind of folder the tool writes: the names it writes there, and how to recognise one written before markers."""

    name: str  # "audit": in the marker
    description: str  # "an audit": in messages
    command: str  # "typicality audit": the command that writes it
    suggestion: str  # a folder name to suggest, e.g. "audit-DATASET"
    files: frozenset[str]  # top-level files the tool writes (also in place, later: `fit`, `influence`, `report`)
    subfolders: dict[str, tuple[str, ...]] = field(default_factory=dict)  # subfolder -> suffixes of the files written there
    recognise: Callable[[Path], bool] | None = None  # a folder without the marker, written by an earlier version

    def __post_init__(self) -> None:
        KINDS[self.name] = self

    def is_written_here(self, entry: Path) -> bool:
        """Whether a top-level entry of a folder of this kind is one the tool writes (never a link, never anything else)."""
        if entry.is_symlink():
            return False
        if entry.is_file():
            return entry.name in self.files or _partial_write_of(entry.name) in self.files
        if entry.is_dir() and entry.name in self.subfolders:
            suffixes = self.subfolders[entry.name]
            return all(child.is_file() and not child.is_symlink() and child.suffix in suffixes for child in entry.iterdir())
        return False


# Every kind defined so far (audit_folder, comparison_folder and debiased_export define theirs): to name a folder of another kind.
KINDS: dict[str, FolderKind] = {}


def _partial_write_of(name: str) -> str:
    """`.results.json.1234.tmp` or `comparison.json.tmp` (a write killed before its rename) -> `results.json`."""
    match = re.fullmatch(r"\.?(.+?)(\.\d+)?\.tmp", name)
    return match.group(1) if match else ""


@dataclass
class FolderContents:
    """What an existing folder holds, as the tool sees it."""

    kind: FolderKind | str | None  # the kind the tool wrote there (a name only, for a kind this process has not defined); None: not the tool's
    foreign: list[str]  # entries the tool did not write (folders end in /)
    entries: int  # all entries

    def listing(self, names: list[str] | None = None) -> str:
        names = self.foreign if names is None else names
        shown = ", ".join(names[:LISTED_ENTRIES])
        return shown + (f" and {len(names) - LISTED_ENTRIES} more" if len(names) > LISTED_ENTRIES else "")


def folder_contents(folder: Path, kind: FolderKind) -> FolderContents:
    """Whose a folder is (its marker, or a kind's own versioned file) and which of its entries the tool did not write."""
    entries = sorted(folder.iterdir(), key=lambda entry: entry.name)
    owner = _marked_kind(folder)
    if owner is None:
        candidates = [kind, *(other for other in KINDS.values() if other.name != kind.name)]
        owner = next((candidate for candidate in candidates if candidate.recognise is not None and candidate.recognise(folder)), None)
    checked = KINDS.get(owner, owner) if isinstance(owner, str) else owner
    foreign = [
        entry.name + ("/" if entry.is_dir() and not entry.is_symlink() else "")
        for entry in entries
        if entry.name != MARKER_FILE and not (isinstance(checked, FolderKind) and checked.is_written_here(entry))
    ]
    return FolderContents(checked, foreign, len(entries))


def _marked_kind(folder: Path) -> str | None:
    marker = folder / MARKER_FILE
    if not marker.is_file() or marker.is_symlink():
        return None
    try:
        kind = json.loads(marker.read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


# ---------------------------------------------------------------------------------------------
# Claiming --out: every refusal before any work


@dataclass
class OutputClaim:
    """A checked `--out`: `staged()` writes the folder beside it and renames it into place."""

    out: Path
    kind: FolderKind
    force: bool = False
    option: str = "--out"

    @contextmanager
    def staged(self) -> Iterator[Path]:
        """Yield an empty folder to write into; on success it becomes `out`, on any failure it is removed (and what was at `out` stays)."""
        root = self.out.parent / f".{self.out.name}{STAGING_SUFFIX}"
        created = _missing_ancestors(self.out.parent)
        _take_staging(root, self.out, self.option)
        try:
            with _writing(self.out, self.option):
                root.mkdir(parents=True)
                (root / RUN_FILE).write_text(json.dumps(_run_record(self)) + "\n", encoding="utf-8")
                folder = root / self.out.name
                folder.mkdir()
            yield folder
            self._commit(root, folder)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            for ancestor in created:  # deepest first; only folders this run created, and only while empty
                try:
                    ancestor.rmdir()
                except OSError:
                    break
            raise

    def _commit(self, root: Path, folder: Path) -> None:
        written = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
        marker = {"kind": self.kind.name, "written_by": self.kind.command, "files": written}
        with _writing(self.out, self.option):
            (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        # Checked again: a file may have been put into --out while this run computed.
        check_output(self.out, self.kind, force=self.force, option=self.option)
        replaced = root / f"{self.out.name}.replaced"
        with _writing(self.out, self.option):
            if self.out.is_dir():
                try:
                    if any(self.out.iterdir()):
                        os.replace(self.out, replaced)  # holds only the tool's files (just checked)
                    else:
                        self.out.rmdir()
                except OSError:  # --out cannot be renamed or removed (a mount point): filled in place instead
                    self._fill_in_place(folder)
                    shutil.rmtree(root, ignore_errors=True)
                    return
            try:
                os.replace(folder, self.out)
            except OSError:
                if replaced.exists():  # the folder being replaced goes back where it was
                    os.replace(replaced, self.out)
                raise
        shutil.rmtree(root, ignore_errors=True)

    def _fill_in_place(self, folder: Path) -> None:
        """Not atomic, for a folder that must stay where it is: its entries (the tool's, just checked) go, the new ones move in, marker first."""
        for entry in list(self.out.iterdir()):
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        for entry in sorted(folder.iterdir(), key=lambda path: path.name != MARKER_FILE):
            shutil.move(str(entry), str(self.out / entry.name))


def claim_output(out: str | Path, kind: FolderKind, *, force: bool = False, inputs: Iterable[str | Path] = (), option: str = "--out") -> OutputClaim:
    """Check `--out` for a folder of `kind` (refusing with one message naming the folder and the fix), before any work."""
    out = Path(out)
    check_output(out, kind, force=force, inputs=inputs, option=option)
    return OutputClaim(out, kind, force, option)


def check_output(out: Path, kind: FolderKind, *, force: bool, inputs: Iterable[str | Path] = (), option: str = "--out") -> None:
    if out.is_symlink():
        raise TypicalityError(
            f"{option} {out} is a symbolic link (to {os.readlink(out)}): typicality does not write or replace through a link; "
            f"give the folder itself, or a new folder such as {option} {kind.suggestion}."
        )
    _refuse_special_places(out, kind, inputs, option)
    if out.exists() and not out.is_dir():
        raise TypicalityError(f"{option} {out} is a file, not a folder: give a new folder, such as {option} {kind.suggestion}.")
    check_parent_writable(out, option)
    if not out.is_dir():
        return
    try:
        contents = folder_contents(out, kind)
    except PermissionError as error:
        raise TypicalityError(f"{option} {out} cannot be read ({error.strerror}): give a folder you can read and write.") from None
    if contents.entries == 0:
        return
    owner = contents.kind
    if owner is None:
        raise TypicalityError(
            f"{option} {out} already exists and is not empty: it holds {contents.listing()} ({contents.entries} entries), "
            f"which typicality did not write. typicality writes only into a new or empty folder, and --force replaces only a folder "
            f"it wrote itself: give a new folder, such as {option} {kind.suggestion}."
        )
    if getattr(owner, "name", owner) != kind.name:
        described = owner.description if isinstance(owner, FolderKind) else f"a '{owner}' folder"
        raise TypicalityError(
            f"{option} {out} holds {described} (written by typicality), not {kind.description}: {kind.command} writes into a folder of its own, "
            f"and --force never replaces a folder of another kind; give a new folder, such as {option} {kind.suggestion}."
        )
    if contents.foreign:
        raise TypicalityError(
            f"{option} {out} holds {kind.description} written by typicality, but also {contents.listing()}, which typicality did not write: "
            f"--force replaces only a folder holding nothing else. Move {'those' if len(contents.foreign) > 1 else 'it'} out, "
            f"or give a new folder, such as {option} {kind.suggestion}."
        )
    if not force:
        raise TypicalityError(
            f"{option} {out} already exists (it already holds {kind.description} written by typicality): "
            f"give another {option}, or pass --force to replace it."
        )
    if not os.access(out, os.W_OK):
        raise TypicalityError(f"{option} {out} is read-only, so it cannot be replaced: make it writable, or give a new folder.")


def _refuse_special_places(out: Path, kind: FolderKind, inputs: Iterable[str | Path], option: str) -> None:
    """The current directory, the home folder, a root, an input and any folder holding one: never an output folder, even with --force."""
    resolved = out.resolve()
    fix = f"give a new folder of its own, such as {option} {kind.suggestion}."
    if resolved == Path(resolved.anchor):
        raise TypicalityError(f"{option} {out} is a filesystem root: {fix}")
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError):  # no home folder known
        home = None
    if home is not None and home.is_relative_to(resolved):
        raise TypicalityError(f"{option} {out} is {'your home folder' if home == resolved else 'a folder holding your home folder'}: {fix}")
    cwd = Path.cwd().resolve()
    if cwd.is_relative_to(resolved):
        raise TypicalityError(f"{option} {out} is {'the current directory' if cwd == resolved else 'a folder holding the current directory'}: {fix}")
    for given in inputs:
        if "://" in str(given):  # a remote file: not on this file system
            continue
        path = Path(given).resolve()
        if path == resolved:
            raise TypicalityError(f"{option} {out} is an input of this command ({given}): {fix}")
        if path.is_relative_to(resolved):
            raise TypicalityError(f"{option} {out} holds an input of this command ({given}): {fix}")


def check_parent_writable(path: Path, option: str = "--out") -> None:
    """The nearest existing folder above `path` must be a folder we can write in (where the staging folder or file goes)."""
    ancestor = path.parent
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise TypicalityError(f"{option} {path} is under {ancestor}, which is a file, not a folder: give a path in a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise TypicalityError(f"{option} {path} cannot be written: {ancestor} is read-only for you. Give a path in a folder you can write to.")


def check_output_file(path: str | Path, what: str, is_ours: Callable[[Path], bool], option: str = "--out") -> Path:
    """A file to write (scores, results.json): not a folder, in a writable folder, and never over a file the tool did not write."""
    path = Path(path)
    if path.is_dir():
        raise TypicalityError(f"{option} {path} is a folder; {what} is one file: give a file path, such as {option} {path / 'NAME'}.")
    check_parent_writable(path, option)
    if path.exists() and not is_ours(path):
        raise TypicalityError(
            f"{option} {path} exists and is not {what} typicality wrote: typicality does not overwrite a file it did not write; give another {option}."
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise TypicalityError(f"{option} {path} is read-only: make it writable, or give another {option}.")
    return path


def check_writable_folder(folder: str | Path, what: str) -> None:
    """Before writing into an existing folder in place (`report`, `fit`, `influence`): one message if it is read-only."""
    folder = Path(folder)
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise TypicalityError(f"{folder} is read-only, so {what} cannot be written into it: make it writable (chmod u+w {folder}), or work on a copy.")


@contextmanager
def writing(path: Path, fix: str = "make its folder writable, or write elsewhere") -> Iterator[None]:
    """A file-system error while writing `path` becomes one message naming it and the fix."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or one_line(error)
        raise TypicalityError(f"Could not write {path} ({reason}): {fix}.") from None


def _writing(out: Path, option: str):
    return writing(out, f"give {option} a folder you can write to")


# ---------------------------------------------------------------------------------------------
# The staging folder: whose it is


def _run_record(claim: OutputClaim) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "kind": claim.kind.name, "out": str(claim.out)}


def _take_staging(root: Path, out: Path, option: str) -> None:
    """A staging folder left by a run that was killed is removed; one of a run still going (or not the tool's) is refused."""
    if not root.exists() and not root.is_symlink():
        return
    try:
        record = json.loads((root / RUN_FILE).read_text(encoding="utf-8"))
        pid, host = int(record["pid"]), str(record["host"])
    except (OSError, ValueError, KeyError, TypeError):
        raise TypicalityError(
            f"{root} is in the way of {option} {out} and was not written by a typicality run: move or remove it, or give another {option}."
        ) from None
    if _running(pid, host):
        raise TypicalityError(
            f"Another typicality run (pid {pid} on {host}, started {record.get('started', '?')}) is writing {option} {out}: "
            f"wait for it to finish, or give another {option}. If that run is gone, remove {root}."
        )
    shutil.rmtree(root)


def _running(pid: int, host: str) -> bool:
    if host != socket.gethostname():
        return True  # another machine's process: it cannot be checked from here
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _missing_ancestors(folder: Path) -> list[Path]:
    """The folders above --out that do not exist yet (deepest first): a failed run removes those it created."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing
