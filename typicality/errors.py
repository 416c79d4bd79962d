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
