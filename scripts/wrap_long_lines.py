"""Wrap the lines ruff's E501 finds too long: the mechanical part of keeping to the line length.

    python scripts/wrap_long_lines.py typicality tests benchmarks reports scripts

1. Each statement holding a too-long line is formatted alone (`ruff format --range`), which
   splits calls, literals and signatures over lines and leaves every other line as it is.
2. A line that is still too long because of one long string literal inside brackets gets that
   literal split at spaces into adjacent literals on the following lines (Python joins adjacent
   literals, so the value is unchanged); an f-string piece without a placeholder loses its `f`.
3. It prints what is left: those lines need a person (a triple-quoted string, say).

Run `ruff check --fix` first (import order); the line length is the one in pyproject.toml.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUFF = [sys.executable, "-m", "ruff"]


def line_length() -> int:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return int(re.search(r"^\[tool\.ruff\][^\[]*?^line-length\s*=\s*(\d+)", text, re.M | re.S).group(1))


def too_long(paths: list[str]) -> dict[str, list[int]]:
    """File -> the rows E501 flags, from the bottom up (so earlier rows keep their numbers)."""
    run = subprocess.run([*RUFF, "check", "--select", "E501", "--output-format", "json", *paths], cwd=ROOT, capture_output=True, text=True)
    rows: dict[str, list[int]] = {}
    for violation in json.loads(run.stdout or "[]"):
        rows.setdefault(violation["filename"], []).append(violation["location"]["row"])
    return {name: sorted(set(found), reverse=True) for name, found in rows.items()}


def format_statements(paths: list[str]) -> None:
    for name, rows in too_long(paths).items():
        for row in rows:
            # ROW-NEXT is the whole of line ROW (the end is exclusive); ruff widens it to the statement.
            subprocess.run([*RUFF, "format", "--range", f"{row}-{row + 1}", name], cwd=ROOT, capture_output=True, check=False)


def split_points(body: str, is_f: bool) -> list[int]:
    """Positions just after a space where the body can be cut: outside f-string fields and escapes."""
    points, depth, index = [], 0, 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 2
            continue
        if is_f and char in "{}":
            if body[index : index + 2] in ("{{", "}}") and depth == 0:
                index += 2
                continue
            depth += 1 if char == "{" else -1
        elif char == " " and depth == 0 and index + 1 < len(body):
            points.append(index + 1)
        index += 1
    return points


def literal(prefix: str, quote: str, piece: str) -> str:
    if "f" in prefix.lower() and not re.search(r"(?<!\{)\{(?!\{)", piece.replace("{{", "")):
        prefix = prefix.replace("f", "").replace("F", "")
        piece = piece.replace("{{", "{").replace("}}", "}")
    return f"{prefix}{quote}{piece}{quote}"


def split_string_on(lines: list[str], row: int, limit: int, tokens: list[tokenize.TokenInfo], depth_at: dict) -> bool:
    """Split the long string literal on `row` (1-based) into adjacent literals; False when there is none to split.

    Inside brackets the pieces follow one another (under the literal when it starts its line, else
    on lines of their own between the bracket and its closing); a literal that ends a statement
    outside brackets is put in parentheses first.
    """
    line = lines[row - 1].rstrip("\n")
    candidates = [t for t in tokens if t.type == tokenize.STRING and t.start[0] == row == t.end[0]]
    candidates = [t for t in candidates if not t.string.endswith(('"""', "'''")) and len(t.string) > 40]
    if not candidates:
        return False
    token = max(candidates, key=lambda t: len(t.string))
    match = re.match(r"([A-Za-z]*)(['\"])(.*)\2$", token.string, re.S)
    if match is None:
        return False
    prefix, quote, body = match.groups()
    indent = " " * (len(line) - len(line.lstrip()))
    head, tail = line[: token.start[1]], line[token.end[1] :]
    if head.strip() == "":  # the literal starts its line: the pieces go under it
        first, inner, last = [], head, tail
    elif depth_at[token.start] > 0 and head.rstrip().endswith(("(", "[", "{")) and tail.lstrip()[:1] in (")", "]", "}"):
        first, inner, last = [head.rstrip()], indent + "    ", "\n" + indent + tail.lstrip()
    elif depth_at[token.start] > 0 and len(head) < limit - 60:  # a keyword argument, say: the pieces line up under it
        first, inner, last = [], None, tail
    elif depth_at[token.start] == 0 and tail.strip() in ("", ",") and not tail.strip():
        first, inner, last = [head + "("], indent + "    ", "\n" + indent + ")"
    else:
        return False
    column = token.start[1] if inner is None else len(inner)
    width = limit - column - len(prefix) - 2 - len(last.split("\n")[0])
    points = split_points(body, "f" in prefix.lower())
    pieces, start = [], 0
    count = -(-len(body) // max(width, 1))  # pieces of about equal length, each within the width
    while len(body) - start > width:
        fitting = [p for p in points if start < p and p - start <= width]
        if not fitting:
            break
        target = start + (len(body) - start) / (count - len(pieces))
        cut = min(fitting, key=lambda p: abs(p - target))
        pieces.append(body[start:cut])
        start = cut
    pieces.append(body[start:])
    if len(pieces) == 1 and not first:
        return False
    texts = [literal(prefix, quote, piece) for piece in pieces]
    if inner is None:
        new = [head + texts[0]] + [" " * column + text for text in texts[1:]]
    else:
        new = first + [inner + text for text in texts]
    new[-1] += last
    lines[row - 1 : row] = [text + "\n" for text in "\n".join(new).split("\n")]
    return True


def split_strings(paths: list[str], limit: int) -> None:
    for name, rows in too_long(paths).items():
        path = ROOT / name
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        tokens = list(tokenize.generate_tokens(io.StringIO("".join(lines)).readline))
        depth, depth_at = 0, {}
        for token in tokens:
            depth_at[token.start] = depth
            if token.type == tokenize.OP and token.string in "([{":
                depth += 1
            elif token.type == tokenize.OP and token.string in ")]}":
                depth -= 1
        for row in rows:  # bottom up, so the tokens' positions above stay right
            split_string_on(lines, row, limit, tokens, depth_at)
        path.write_text("".join(lines), encoding="utf-8")


def main() -> int:
    paths = sys.argv[1:] or ["."]
    limit = line_length()
    format_statements(paths)
    split_strings(paths, limit)
    left = too_long(paths)
    for name, rows in sorted(left.items()):
        for row in sorted(rows):
            print(f"{name}:{row}: still longer than {limit} characters")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
