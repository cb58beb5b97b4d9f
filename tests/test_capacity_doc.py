"""docs/capacity.md's table of the guide's traffic levels is what the simulator computes today."""

from __future__ import annotations

from simulator.capacity_doc import BEGIN, DOC, END, render


def test_the_capacity_table_is_the_code_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = BEGIN + text.split(BEGIN, 1)[1].split(END, 1)[0] + END
    assert documented == render(), "run .venv/bin/python -m simulator.capacity_doc to regenerate docs/capacity.md"
