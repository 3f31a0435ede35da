"""Text widths: Arial's metrics, an upper bound for unknown characters, and ellipsis fitting."""

from __future__ import annotations

import pytest

from greenroom.plugins.catalog_graph.text_metrics import ELLIPSIS, KIND_STYLE, NAME_STYLE, TextStyle


def test_widths_are_arial_advance_widths() -> None:
    # Arial's advance widths in 1/1000 em: "i" 222, "W" 944, "m" 833; bold "i" 278.
    assert TextStyle(size=1000).width("iWm") == 222 + 944 + 833
    assert TextStyle(size=1000, bold=True).width("i") == 278
    # A narrow and a wide name of the same length are no longer treated alike.
    assert NAME_STYLE.width("WWWWWWWWWW") > 2.5 * NAME_STYLE.width("iiiiiiiiii")
    assert NAME_STYLE.width("Machine Learning Team") == pytest.approx(148.1, abs=0.1)


def test_unknown_characters_count_as_a_full_em() -> None:
    assert TextStyle(size=10).width("数据") == 20
    assert KIND_STYLE.width("x😀") >= KIND_STYLE.size


@pytest.mark.parametrize(
    "text",
    [
        "Machine Learning Team",
        "Production Kubernetes cluster",
        "Customer Profile Service",
        "WWWWWWWWWWWWWWWWWWWWWWWW",
        "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii",
        "数据平台团队的机器学习管道",
        "a   spaced      name     that    is    long",
    ],
)
@pytest.mark.parametrize("max_width", [40.0, 100.0, 142.0, 200.0])
def test_fit_returns_the_longest_prefix_that_fits(text: str, max_width: float) -> None:
    fitted = NAME_STYLE.fit(text, max_width)
    assert NAME_STYLE.width(fitted) <= max_width
    if NAME_STYLE.width(text) <= max_width:
        assert fitted == text
        return
    assert fitted.endswith(ELLIPSIS)
    prefix = fitted[: -len(ELLIPSIS)]
    assert text.startswith(prefix) and prefix == prefix.rstrip()
    # One character more would not have fitted.
    longer = text[: len(prefix) + 1].rstrip() + ELLIPSIS
    assert len(longer) <= len(fitted) or NAME_STYLE.width(longer) > max_width


def test_fit_gives_up_cleanly_when_nothing_fits() -> None:
    assert NAME_STYLE.fit("Machine", 3) == ""
