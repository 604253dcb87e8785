"""The netstring codec Postfix's socketmap speaks."""

from __future__ import annotations

import pytest

from senders.agent.netstring import Decoder, NetstringError, encode


def test_it_encodes_length_colon_payload_comma() -> None:
    assert encode(b"transport bob@example.com") == b"25:transport bob@example.com,"
    assert encode(b"") == b"0:,"


def test_it_decodes_several_netstrings_in_one_read() -> None:
    assert Decoder().feed(b"3:abc,0:,5:hello,") == [b"abc", b"", b"hello"]


def test_it_waits_for_a_netstring_split_over_reads() -> None:
    decoder = Decoder()
    assert decoder.feed(b"1") == []
    assert decoder.feed(b"1:hello") == []
    assert decoder.feed(b" world") == []
    assert decoder.feed(b",2:") == [b"hello world"]
    assert decoder.pending == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"abc", "expected a length followed by ':'"),
        (b"3:abcd", "netstring does not end with ','"),
        (b"-1:a,", "expected a length followed by ':'"),
        (b"01:a,", "expected a length followed by ':'"),
        (b":a,", "expected a length followed by ':'"),
        (b"1234567:", "expected a length followed by ':'"),
        (b"100001:", "netstring of 100001 bytes is over 100000"),
    ],
)
def test_it_rejects_malformed_input(data: bytes, message: str) -> None:
    with pytest.raises(NetstringError) as error:
        Decoder().feed(data)
    assert str(error.value) == message
