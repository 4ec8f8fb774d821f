"""The sequence-model examples run (small sizes) and their data are what they claim."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_dates_are_valid_and_their_iso_form_is_right():
    module = _load("date_translation")
    pairs = module.make_dates(200, seed=3)
    assert len({h for h, _ in pairs}) > 150  # varied formats and dates
    for human, iso in pairs:
        d = datetime.date.fromisoformat(iso)
        assert str(d.day) in human and (str(d.year) in human or f"{d.year % 100:02d}" in human)
    src, dec_in, tgt = module.encode(pairs, sorted({c for h, _ in pairs for c in h}), 40)
    assert src.shape == (200, 40) and tgt.shape == dec_in.shape == (200, 10)
    assert (dec_in[:, 1:] == tgt[:, :-1]).all() and (dec_in[:, 0] == module.START).all()


def test_date_translation_runs(capsys):
    result = _load("date_translation").main(["--m", "200", "--epochs", "2", "--units", "8"])
    assert result["costs"][-1] < result["costs"][0]
    assert "dates exactly right" in capsys.readouterr().out


def test_character_names_corpus_and_batches():
    module = _load("character_names")
    names, chars = module.load_corpus()
    assert len(names) == 405 and chars[0] == "\n" and all(n.isalpha() and n.islower() for n in names)
    X, Y = module.one_hot_batch(names[:3], chars)
    assert (X[:, :, 0] == 0).all()  # the course's x<1> = 0
    np.testing.assert_array_equal(X[:, :, 1:], Y[:, :, :-1])  # x<t+1> = y<t>
    assert (Y.sum(axis=0) == 1).all()


def test_character_names_runs():
    result = _load("character_names").main(["--epochs", "3", "--units", "8"])
    assert result["costs"][-1] < result["costs"][0]
    assert all(set("".join(s)) <= set("abcdefghijklmnopqrstuvwxyz") for s in result["samples"].values())


def test_transformer_reverse_runs():
    module = _load("transformer_reverse")
    src, dec_in, tgt = module.reverse_task(5, 4, 6, seed=0)
    assert (tgt == src[:, ::-1]).all() and (dec_in[:, 1:] == tgt[:, :-1]).all()
    result = module.main(["--epochs", "2", "--m", "200", "--T", "4", "--V", "6"])
    assert result["costs"][-1] < result["costs"][0]
