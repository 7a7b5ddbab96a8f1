"""The payload token: written by publishers, found by receivers in whatever the app wraps it in."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pushbench.core.payload_token import Token, TokenError, find_tokens, make_token

INT64_MAX = 2**63 - 1
publishers = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    min_size=1,
    max_size=32,
)
numbers = st.integers(min_value=0, max_value=INT64_MAX)
tokens = st.builds(Token, publishers, numbers, numbers)


@given(tokens, st.text(), st.text())
def test_a_token_is_found_in_any_json_the_app_wraps_it_in(
    token: Token, before: str, after: str
) -> None:
    text = make_token(*token)
    wrapped = json.dumps({"user": before, "text": f"{before} {text} {after}", "n": after})
    assert token in find_tokens(wrapped)
    assert token in find_tokens(wrapped.encode())


@given(st.lists(tokens, max_size=20), st.sampled_from([" ", "\n", ",", "|", "data: "]))
def test_every_token_of_a_batch_is_found_in_order(batch: list[Token], separator: str) -> None:
    """A poll body or a joined broadcast carries several: each one, in the order sent."""
    body = separator.join(make_token(*t) for t in batch)
    assert find_tokens(body) == batch
    assert find_tokens(body.encode()) == batch


def test_the_tutorial_echo_carries_the_token() -> None:
    token = make_token("p0", 41, 1_234_567_890)
    assert find_tokens(f"Your text was: {token}") == [Token("p0", 41, 1_234_567_890)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "pb1.p0.1",  # cut short
        "pb1..1.2",  # no publisher
        "pb2.p0.1.2",  # another version of the format
        "xpb1.p0.1.2",  # inside a word
        "pb1.p0.-1.2",  # negative
        f"pb1.p0.1.{INT64_MAX + 1}",  # 19 digits, past int64
        "pb1.p0.1.12345678901234567890",  # 20 digits: not its first 19
        f"pb1.{'a' * 33}.1.2",  # publisher id too long
    ],
)
def test_what_is_not_a_token_is_not_read_as_one(text: str) -> None:
    """No digit dropped, no wrong latency: the frame counts as unexpected instead."""
    assert find_tokens(text) == []
    assert find_tokens(text.encode()) == []


@pytest.mark.parametrize(
    ("publisher", "seq", "scheduled_ns"),
    [
        ("", 0, 0),
        ("a.b", 0, 0),
        ("é", 0, 0),
        ("a" * 33, 0, 0),
        ("p", -1, 0),
        ("p", 0, INT64_MAX + 1),
        ("p", True, 0),
    ],
)
def test_a_token_that_could_not_be_read_back_is_refused(
    publisher: str, seq: int, scheduled_ns: int
) -> None:
    with pytest.raises(TokenError):
        make_token(publisher, seq, scheduled_ns)
