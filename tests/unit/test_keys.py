"""Key rules (SPEC §3) checked against an independent reference implementation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from objstore._keys import check_key, key_problem, prefix_can_match
from objstore.errors import InvalidKeyError


def reference_is_valid(key: str) -> bool:
    """SPEC §3 read literally, sentence by sentence."""
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    if not 1 <= len(encoded) <= 1024:
        return False
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return False
    return all(
        1 <= len(seg.encode("utf-8")) <= 255 and seg not in (".", "..") for seg in key.split("/")
    )


alphabet = st.sampled_from(["a", "/", ".", "é", "\x00", "\x1f", "\x7f", "\ud800", " ", "😀",
                            "\\", "%", "\u0085"])
keys = st.text(alphabet, max_size=12) | st.text(max_size=40) | st.text(
    st.sampled_from("ab/"), min_size=250, max_size=1100)


@given(keys)
def test_key_rules_match_the_reference(key: str) -> None:
    assert (key_problem(key) is None) == reference_is_valid(key)


@given(keys)
def test_check_key_raises_a_clear_invalid_key_error(key: str) -> None:
    if reference_is_valid(key):
        assert check_key(key) == key
    else:
        with pytest.raises(InvalidKeyError) as caught:
            check_key(key)
        assert "invalid key" in str(caught.value)


def test_str_subclass_keys_become_plain_str() -> None:
    class Name(str):
        pass

    checked = check_key(Name("a/b"))
    assert type(checked) is str and checked == "a/b"


@pytest.mark.parametrize(
    ("prefix", "can_match"),
    [("", True), ("a", True), ("a/", True), ("..", True), ("a/..", True), ("/", False),
     ("/a", False), ("a//", False), ("a/../", False), ("./", False)],
)
def test_prefix_can_match(prefix: str, can_match: bool) -> None:
    assert prefix_can_match(prefix) is can_match
