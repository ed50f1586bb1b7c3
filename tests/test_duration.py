import pytest

from spdrill.duration import format_duration, parse_duration


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("90m", 5400), ("4h", 14400), ("1h30m", 5400),
                                               ("2d", 172800), ("1.5h", 5400), (" 10m ", 600)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "4", "4 hours", "h", "-1h", "1h1h", "30m1h2x", "1.h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected|is not"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(0.42) == "0.4s"
    assert format_duration(245) == "4m05s"
    assert format_duration(7380) == "2h03m"
    assert format_duration(3 * 86400 + 4 * 3600) == "3d04h"
