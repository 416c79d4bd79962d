"""What a preference column means, stated in the data's own terms (`--label`), for the generic `pairs` loader.

A preference column read backwards costs nothing to run and silently inverts the audit, so the
meaning of every value is stated by the user, never guessed:

- `COLUMN=VALUE:SIDE,VALUE:SIDE,...`: each listed value of COLUMN names the preferred side,
  `a` (response_a), `b` (response_b) or `tie`. For example
  `better_response_id=0:a,1:b` (the index of the better response, 0 = the first one),
  `winner=model_a:a,model_b:b,tie:tie` (a winner name), `label=1:a,0:b,0.5:tie` (today's default).
  A value of the column that is not listed is refused (with the values found); a missing value
  is a missing label (dropped and counted).
- `onehot:a=COLUMN,b=COLUMN,tie=COLUMN`: one flag column per outcome (1 or true = this outcome),
  as in `winner_model_a, winner_model_b, winner_tie`; `tie=` may be left out only when no row is
  a tie. A row must set exactly one flag; anything else is refused with the count.

Without `--label`, a `label` column keeps its documented meaning (1 = response_a preferred,
0 = response_b, 0.5 = tie). Mapping to `label` (with `--columns label=COLUMN`) a column whose
name says it is something else, an index (`*_id`, `*_idx`, `*_index`) or one outcome's flag
(`winner_*`, `*_wins`, `is_*`), is refused: read that way, an index inverts every label and a
one-hot flag turns every tie into a loss. The message gives the `--label` forms.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from typicality.errors import TypicalityError

SIDES = {"a": 1.0, "b": 0.0, "tie": 0.5}
ONE_HOT = "onehot:"
# Column names that say "index of a response" or "flag of one outcome": never a 1/0/0.5 label.
INDEX_NAME = re.compile(r"(^|_)(id|idx|index)$", re.IGNORECASE)
FLAG_NAME = re.compile(r"(^|_)(winner|win|wins|won|is|tie)(_|$)", re.IGNORECASE)
CHOICES = (
    "state what the column means with --label: COLUMN=VALUE:SIDE,... for the index or name of the preferred response "
    "(e.g. --label better_response_id=0:a,1:b when 0 means response_a; --label winner=model_a:a,model_b:b,tie:tie), "
    "or --label onehot:a=COLUMN,b=COLUMN,tie=COLUMN for one flag column per outcome"
)


@dataclass(frozen=True)
class LabelSpec:
    """A parsed `--label`: a value map over one column, or one-hot flag columns (side -> column)."""

    column: str | None = None
    values: tuple[tuple[str, str], ...] = ()  # (value as written, side)
    flags: tuple[tuple[str, str], ...] = ()  # (side, column)

    @property
    def columns(self) -> list[str]:
        return [self.column] if self.column is not None else [column for _, column in self.flags]

    def describe(self) -> str:
        """The meaning in words, for dataset.json's `preference`."""
        if self.column is not None:
            return f"{self.column}: " + ", ".join(f"{value} = {_side_words(side)}" for value, side in self.values)
        return "one-hot " + ", ".join(f"{column} = {_side_words(side)}" for side, column in self.flags)

    def labels(self, columns: dict[str, Sequence], where: str) -> list[float]:
        """1 / 0 / 0.5 per row (NaN where the value is missing); any unlisted value or bad flag row is refused."""
        if self.column is not None:
            return self._mapped(columns[self.column], where)
        return self._one_hot(columns, where)

    def _mapped(self, values: Sequence, where: str) -> list[float]:
        table = {_normal(value): SIDES[side] for value, side in self.values}
        out, unknown = [], Counter()
        for value in values:
            if _missing(value):
                out.append(math.nan)
                continue
            key = _normal(value)
            if key not in table:
                unknown[repr(value)] += 1
                out.append(math.nan)
                continue
            out.append(table[key])
        if unknown:
            found = ", ".join(f"{value} ({count} rows)" for value, count in unknown.most_common(8))
            raise TypicalityError(
                f"{where}: --label maps {', '.join(value for value, _ in self.values)} of column {self.column}, but it also holds {found}. "
                "Map every value to a, b or tie in --label."
            )
        return out

    def _one_hot(self, columns: dict[str, Sequence], where: str) -> list[float]:
        sides = [side for side, _ in self.flags]
        flags = [[_flag(value, column, where) for value in columns[column]] for _, column in self.flags]
        out, none_set, several = [], 0, 0
        for row in zip(*flags):
            if all(flag is None for flag in row):
                out.append(math.nan)  # no outcome recorded: a missing label
                continue
            chosen = [side for side, flag in zip(sides, row) if flag]
            none_set += not chosen
            several += len(chosen) > 1
            out.append(SIDES[chosen[0]] if len(chosen) == 1 else math.nan)
        if none_set or several:
            hint = " Name the tie column with tie=COLUMN." if "tie" not in sides and none_set else ""
            raise TypicalityError(
                f"{where}: with --label {ONE_HOT}{','.join(f'{s}={c}' for s, c in self.flags)}, {none_set} rows set none of the flags "
                f"and {several} set several; each row must set exactly one.{hint}"
            )
        return out


def parse_label_spec(text: str) -> LabelSpec:
    """Parse `--label` (forms in the module docstring); a malformed spec is refused with the forms."""
    text = (text or "").strip()
    forms = "Use --label COLUMN=VALUE:SIDE,... (SIDE: a, b or tie) or --label onehot:a=COLUMN,b=COLUMN,tie=COLUMN."
    if text.startswith(ONE_HOT):
        flags = []
        for item in text[len(ONE_HOT):].split(","):
            side, _, column = (part.strip() for part in item.partition("="))
            if side not in SIDES or not column:
                raise TypicalityError(f"--label {text}: '{item}' is not SIDE=COLUMN with SIDE a, b or tie. {forms}")
            flags.append((side, column))
        named = [side for side, _ in flags]
        if len(set(named)) < len(named) or not {"a", "b"} <= set(named):
            raise TypicalityError(f"--label {text}: name one column for a, one for b (and one for tie, if any). {forms}")
        return LabelSpec(flags=tuple(flags))
    column, _, mapping = (part.strip() for part in text.partition("="))
    if not column or not mapping:
        raise TypicalityError(f"--label {text!r} names no column and values. {forms}")
    values = []
    for item in mapping.split(","):
        value, _, side = (part.strip() for part in item.rpartition(":"))
        if side not in SIDES or not value:
            raise TypicalityError(f"--label {text}: '{item}' is not VALUE:SIDE with SIDE a, b or tie. {forms}")
        values.append((value, side))
    keys = [_normal(value) for value, _ in values]
    if len(set(keys)) < len(keys):
        raise TypicalityError(f"--label {text}: a value is listed twice. {forms}")
    if not {"a", "b"} <= {side for _, side in values}:
        raise TypicalityError(f"--label {text}: say which value means response_a (:a) and which response_b (:b). {forms}")
    return LabelSpec(column=column, values=tuple(values))


def refuse_misread_label(source_column: str, where: str) -> None:
    """Refuse reading `source_column` (mapped to `label` by --columns) as 1 = a / 0 = b / 0.5 = tie when its name says otherwise."""
    if INDEX_NAME.search(source_column):
        what = "the index of a response, not 1 = response_a preferred (read as a label, 0 = the first response would mean response_b won)"
    elif FLAG_NAME.search(source_column):
        what = "one outcome's flag (read as a label, every tie would count as a loss for response_a)"
    else:
        return
    raise TypicalityError(f"{where}: --columns label={source_column} maps a column whose name says it is {what}. Drop label= from --columns and {CHOICES}.")


def _side_words(side: str) -> str:
    return {"a": "response_a preferred", "b": "response_b preferred", "tie": "tie"}[side]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _normal(value) -> str:
    """One spelling per value: numbers by value (0, 0.0, "0" alike), flags as true/false, text as written (stripped)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(float(value))
    text = str(value).strip()
    try:
        return repr(float(text))
    except ValueError:
        return text


def _flag(value, column: str, where: str) -> bool | None:
    if _missing(value):
        return None
    key = _normal(value).lower()
    if key in ("true", repr(1.0)):
        return True
    if key in ("false", repr(0.0)):
        return False
    raise TypicalityError(f"{where}: one-hot column {column} holds {value!r}; its values must be 1/0 or true/false.")
