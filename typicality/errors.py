"""The one exception type for mistakes a user can make (bad file, bad column, bad model).

The CLI prints its message alone, without a traceback: the message must name the
input at fault and say how to fix it.
"""


class TypicalityError(Exception):
    """A problem with the user's input, stated in one clear message."""


def one_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's message (or its type name), for one-line user messages."""
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else type(error).__name__


def require_type(function: str, name: str, value, kinds: type | tuple[type, ...], expected: str, fix: str = "") -> None:
    """Refuse a wrong-typed argument of a public function with one message (what was given, what is expected, the fix),
    instead of an AttributeError deep inside."""
    if isinstance(value, kinds) and not (isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,))):
        return
    given = repr(value) if value is None or isinstance(value, (bool, int, float, str)) else f"a {type(value).__name__}"
    given = given if len(given) <= 60 else given[:57] + "..."
    raise TypicalityError(f"{function}(): {name} must be {expected}, got {given}" + (f"; {fix}" if fix else "") + ".")


def require_path(function: str, name: str, value) -> None:
    """A folder or file argument: a str or a pathlib.Path."""
    import os

    require_type(function, name, value, (str, os.PathLike), "a path (a str or a pathlib.Path)")
