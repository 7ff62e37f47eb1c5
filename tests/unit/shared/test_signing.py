import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from shared.signing import SignatureFailure, parse_header, sign, verify

BODY = b'{"specversion":"1.0"}'


def independent_signature(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_signature_matches_the_contract_formula():
    header = sign("s3cret", BODY, now=1_700_000_000)
    assert header == f"t=1700000000,v1={independent_signature('s3cret', 1_700_000_000, BODY)}"
    assert verify(header, BODY, ["s3cret"], now=1_700_000_000) is None


def test_window_is_300_seconds_either_way():
    header = sign("k", BODY, now=1000)
    assert verify(header, BODY, ["k"], now=1300) is None
    assert verify(header, BODY, ["k"], now=700) is None
    assert verify(header, BODY, ["k"], now=1301) is SignatureFailure.STALE
    assert verify(header, BODY, ["k"], now=699) is SignatureFailure.STALE


def test_previous_secret_is_accepted_when_offered():
    header = sign("old", BODY, now=1000)
    assert verify(header, BODY, ["new", "old"], now=1000) is None
    assert verify(header, BODY, ["new"], now=1000) is SignatureFailure.MISMATCH


def test_failures_are_named():
    assert verify(None, BODY, ["k"]) is SignatureFailure.MISSING
    assert verify(b"", BODY, ["k"]) is SignatureFailure.MISSING
    assert verify("garbage", BODY, ["k"]) is SignatureFailure.MALFORMED
    assert verify(b"t=abc,v1=00", BODY, ["k"]) is SignatureFailure.MALFORMED
    assert verify(b"\xff\xfe", BODY, ["k"]) is SignatureFailure.MALFORMED
    header = sign("k", BODY, now=1000)
    assert verify(header, BODY + b" ", ["k"], now=1000) is SignatureFailure.MISMATCH


def test_absurd_timestamps_are_malformed_not_a_crash():
    assert verify("t=" + "9" * 400 + ",v1=" + "a" * 64, BODY, ["k"]) is SignatureFailure.MALFORMED
    assert verify("t=-5,v1=" + "a" * 64, BODY, ["k"]) is SignatureFailure.MALFORMED


@given(st.binary(max_size=120) | st.builds(
    lambda t, digest, extra: f"t={t},v1={digest}{extra}".encode(),
    st.integers(min_value=0, max_value=10**13), st.text("0123456789abcdefABCDEF", min_size=63, max_size=65),
    st.sampled_from(["", ",v0=x", " ", ",v1=" + "b" * 64]),
))
def test_the_fast_path_reads_headers_as_the_general_parser_does(header):
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        return  # only the general parser sees non-ASCII bytes
    assert parse_header(header) == parse_header(text)
