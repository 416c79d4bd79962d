"""Text from a dataset or a path, made safe to show: the one rule for the terminal and for report.md.

Data is data: a slice name, a dataset title, a file name or a response must never move the
cursor, clear the screen, plant a hidden link (ANSI/OSC escape sequences) or be read as Rich
markup (`[link=...]`, `[/]`) or emoji codes (`:smile:`). So:

- `printable(text)` shows every control character as a visible escape (`\\x1b`, `\\x07`, `\\u202e`):
  C0 but newline and tab, DEL, C1, and Unicode's bidirectional overrides, which reorder what a
  reader sees. What remains cannot drive a terminal; the escape says what was there.
- `DataConsole` is the Rich console every command prints through: every string it renders (a
  printed line, a table cell or title, a rule) goes through `printable` and is never parsed as
  markup or emoji. Styling is given as `rich.text.Text` objects built from our own words.
- `say(...)` is `print` for plain lines (a message naming a path, an error).

It sits at the bottom of the import layers (it imports no other module of the package), so the
scoring stage's progress bars use it as the commands do.
"""

from __future__ import annotations

import re
import sys

from rich.console import Console

# C0 controls but \t (0x09) and \n (0x0a); DEL and the C1 controls (0x7f-0x9f, 0x9b is a one-byte CSI);
# the bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069).
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text) -> str:
    """`text` (any object, as str) with every control character shown as a visible escape; newlines and tabs kept."""
    return CONTROL.sub(_visible, str(text))


class DataConsole(Console):
    """A Rich console that shows every string as plain text: control characters made visible, no markup, no emoji codes.

    Strings reach a console through `render_str` (printed lines, table cells and titles, rules),
    so this is the one place where they are made safe, whatever the caller passes.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("markup", False)
        kwargs.setdefault("emoji", False)
        super().__init__(**kwargs)

    def render_str(self, text: str, **kwargs):
        kwargs.update(markup=False, emoji=False)
        return super().render_str(printable(text), **kwargs)


def say(*parts, stderr: bool = False) -> None:
    """Print one plain line (parts joined by spaces) with its control characters made visible."""
    print(printable(" ".join(str(part) for part in parts)), file=sys.stderr if stderr else sys.stdout)
