"""The one rendering of message lists to plain text, checked against hand-written strings."""

from __future__ import annotations

from tests.data.files import assistant, user
from typicality.data.render import (
    HISTORIES_DIFFER,
    MALFORMED,
    NO_ASSISTANT,
    render_prompt,
    split_conversation,
    split_conversation_pair,
)
from typicality.domain import Accounting


def test_a_single_user_turn_stays_verbatim():
    assert render_prompt([user("  What is 2+2?\n")]) == "  What is 2+2?\n"


def test_several_turns_become_an_hh_rlhf_transcript_ending_with_the_assistant_cue():
    messages = [user("Hi"), assistant(" Hello! \n"), user("Name a color.")]
    assert render_prompt(messages) == "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a color.\n\nAssistant:"


def test_a_system_message_is_a_turn_of_its_own():
    messages = [{"role": "system", "content": "Be brief."}, user("Hi")]
    assert render_prompt(messages) == "\n\nSystem: Be brief.\n\nHuman: Hi\n\nAssistant:"


def test_split_conversation_returns_the_last_assistant_turn_verbatim():
    assert split_conversation([user("Hi"), assistant(" Yo ")]) == ("Hi", " Yo ")
    assert split_conversation([user("Hi")]) is None
    assert split_conversation([assistant("Yo"), user("Hi")]) is None


def test_split_conversation_pair_counts_each_reason():
    accounting = Accounting()
    history = [user("Hi"), assistant("Hello"), user("Color?")]
    kept = split_conversation_pair(history + [assistant("Blue")], history + [assistant("Red")], accounting)
    assert kept == ("\n\nHuman: Hi\n\nAssistant: Hello\n\nHuman: Color?\n\nAssistant:", "Blue", "Red")
    other = [user("Hi"), assistant("Hey"), user("Color?"), assistant("Red")]
    assert split_conversation_pair(history + [assistant("Blue")], other, accounting) is None
    assert split_conversation_pair([user("Hi")], [user("Hi"), assistant("x")], accounting) is None
    assert split_conversation_pair("Hi", [user("Hi"), assistant("x")], accounting) is None
    assert split_conversation_pair([{"role": "user", "content": None}], [user("Hi"), assistant("x")], accounting) is None
    assert dict(accounting.dropped) == {HISTORIES_DIFFER: 1, NO_ASSISTANT: 1, MALFORMED: 2}
