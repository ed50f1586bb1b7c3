from spdrill.redact import MASK, redact, register


def test_registered_secret_is_masked() -> None:
    register("s3cr3t-token-value")
    assert redact("token=s3cr3t-token-value!") == f"token={MASK}!"


def test_any_jwt_is_masked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJBbGxvdyI6WyJyZWFkIl19.c2lnbmF0dXJlLXZhbHVl"
    assert jwt not in redact(f"FULLNODE_API_INFO={jwt}:/ip4/127.0.0.1/tcp/1234/http")


def test_short_strings_not_registered() -> None:
    register("abc")
    assert redact("abc") == "abc"
