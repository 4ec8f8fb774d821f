"""Seq2Seq and Transformer in model files: round trips (optimiser state included), checkpoints
and resume to the uninterrupted parameters, and crafted or damaged files refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xpnet as xn

from test_functional_fit import T_DEC, T_ENC, V_IN, V_OUT, _data, rnn
from test_io import _host, _same_state
from test_io_hostile import _parts, _write


def transformer(seed=0, backend="numpy", dropout=0.0):
    return xn.Transformer(1, 4, 2, 6, V_IN, V_OUT, backend=backend, dtype="float64", seed=seed, dropout=dropout)


def bidirectional(seed=0, backend="numpy"):
    return xn.Seq2Seq(
        encoder=[xn.Embedding(V_IN, 3), xn.Bidirectional(xn.GRU(3, return_sequences=True, return_state=True))],
        decoder=[xn.Embedding(V_OUT, 3), xn.GRU(6, return_sequences=True),
                 xn.TimeDistributed(xn.Dense(V_OUT, activation="softmax"))],
        backend=backend, dtype="float64", seed=seed)


MODELS = {"rnn": rnn, "transformer": transformer, "bidirectional": bidirectional}


@pytest.mark.parametrize("kind", MODELS)
def test_round_trip_keeps_class_parameters_optimizer_and_predictions(kind, tmp_path):
    Xe, Xd, Y = _data()
    model = MODELS[kind]()
    model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=3, batch_size=8)
    path = xn.save(model, tmp_path / "m.npz", metadata={"task": "copy"})
    header = xn.read_header(path)
    assert header["version"] == 2 and header["config"]["model"] == type(model).__name__
    assert header["metadata"] == {"task": "copy"}
    for backend in ("numpy", "array_api_strict"):
        loaded = xn.load(path, backend=backend)
        assert type(loaded) is type(model) and loaded.mask_zero == model.mask_zero
        _same_state(model, loaded)
        assert loaded.loss.name == model.loss.name
        assert loaded.shuffle_rng.bit_generator.state == model.shuffle_rng.bit_generator.state
        np.testing.assert_allclose(xn.to_numpy(loaded.predict_proba(Xe, Xd)), model.predict_proba(Xe, Xd),
                                   rtol=1e-12, atol=1e-15)
        assert loaded.evaluate(Xe, Xd, Y) == pytest.approx(model.evaluate(Xe, Xd, Y), rel=1e-12)
    loaded = xn.load(path)
    h1 = loaded.fit(Xe, Xd, Y, epochs=2, batch_size=8)  # the saved optimiser (Adam's moments) continues
    h2 = model.fit(Xe, Xd, Y, epochs=2, batch_size=8)
    assert h1.costs == h2.costs


def test_sequential_files_keep_format_version_1(tmp_path):
    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=3, seed=0, backend="numpy")
    assert xn.read_header(xn.save(net, tmp_path / "s.npz"))["version"] == 1


def test_an_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(xn.NotFittedError):
        xn.save(rnn(), tmp_path / "m.npz")


@pytest.mark.parametrize("kind", ["rnn", "transformer_dropout"])
def test_resume_reaches_exactly_the_uninterrupted_parameters(kind, tmp_path):
    make = rnn if kind == "rnn" else (lambda seed=0: transformer(seed, dropout=0.2))
    Xe, Xd, Y = _data()
    path = tmp_path / "ck.npz"
    make().fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=4, batch_size=8, checkpoint_every=2,
               checkpoint_path=path, validation_split=0.25)
    assert xn.read_header(path)["epochs_trained"] == 4
    resumed = make(seed=77)  # other weights and dropout keys: everything must come from the checkpoint
    hist = resumed.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=7, batch_size=8, resume_from=path,
                       validation_split=0.25)
    straight = make()
    full = straight.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=7, batch_size=8, validation_split=0.25)
    _same_state(straight, resumed)
    assert hist.costs == full.costs and hist.history["val_cost"] == full.history["val_cost"]


def test_resume_refuses_another_architecture(tmp_path):
    Xe, Xd, Y = _data()
    path = tmp_path / "ck.npz"
    rnn().fit(Xe, Xd, Y, epochs=2, checkpoint_path=path)
    with pytest.raises(xn.XpnetValueError, match="different architecture"):
        transformer().fit(Xe, Xd, Y, epochs=4, resume_from=path)
    no_mask = xn.Seq2Seq(rnn().encoder, rnn().decoder, dtype="float64", mask_zero=False, backend="numpy")
    with pytest.raises(xn.XpnetValueError, match="different architecture"):
        no_mask.fit(Xe, Xd, Y, epochs=4, resume_from=path)
    net = xn.Sequential([xn.Embedding(V_IN, 3), xn.LSTM(4)], backend="numpy")
    with pytest.raises(xn.XpnetValueError, match="different architecture"):
        net.fit(Xe, np.zeros((4, 24)), epochs=4, resume_from=path)


# -- damaged and crafted files ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    Xe, Xd, Y = _data()
    model = transformer()
    model.fit(Xe, Xd, Y, optimizer=xn.Adam(0.01), epochs=2, batch_size=8)
    return xn.save(model, tmp_path_factory.mktemp("m") / "t.npz")


def test_a_flipped_byte_fails_the_digest(saved, tmp_path):
    with open(saved, "rb") as f:
        raw = bytearray(f.read())
    header, arrays = _parts(saved)
    name = sorted(k for k in arrays if k.startswith("param/Wq"))[0]
    start = raw.find(arrays[name].tobytes())
    raw[start + 3] ^= 0x01
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(xn.ModelFileError, match="CRC|digest"):
        xn.load(tmp_path / "bad.npz")


def _edit_config(header, **changes):
    header = json.loads(json.dumps(header))
    for key, value in changes.items():
        if value is _DROP:
            header["config"].pop(key)
        else:
            header["config"][key] = value
    return header


_DROP = object()


@pytest.mark.parametrize("changes, named", [
    ({"model": "Graph"}, "config.model"),
    ({"encoder_layers": 0}, "config.encoder_layers"),
    ({"encoder_layers": 99}, "config.encoder_layers"),
    ({"encoder_layers": "3"}, "config.encoder_layers"),
    ({"decoder_input_size": _DROP}, "config.decoder_input_size"),
    ({"decoder_input_size": [0]}, "config.decoder_input_size"),
    ({"mask_zero": "yes"}, "config.mask_zero"),
    ({"transformer": _DROP}, "config.transformer"),
    ({"transformer": {"num_layers": "one"}}, "config.transformer"),
])
def test_every_bad_encoder_decoder_field_is_named(saved, tmp_path, changes, named):
    header, arrays = _parts(saved)
    path = _write(tmp_path / "x.npz", _edit_config(header, **changes), arrays)
    with pytest.raises(xn.ModelFileError, match=named.replace(".", r"\.")):
        xn.load(path)


def test_a_version_1_file_cannot_hold_an_encoder_decoder(saved, tmp_path):
    header, arrays = _parts(saved)
    header["version"] = 1
    with pytest.raises(xn.ModelFileError, match="version"):
        xn.load(_write(tmp_path / "v1.npz", header, arrays))


def test_transformer_arguments_that_disagree_with_the_stored_layers_are_refused(saved, tmp_path):
    header, arrays = _parts(saved)
    for change in ({"d_ff": 10**9}, {"num_layers": 10**9}, {"heads": 4}, {"bogus": 1}):
        bad = _edit_config(header)
        bad["config"]["transformer"].update(change)
        with pytest.raises(xn.ModelFileError, match="config"):
            xn.load(_write(tmp_path / "t.npz", bad, arrays))


def test_a_huge_declared_decoder_input_fails_before_allocating(saved, tmp_path):
    header, arrays = _parts(saved)
    path = _write(tmp_path / "big.npz", _edit_config(header, decoder_input_size=[10**12]), arrays)
    with pytest.raises(xn.ModelFileError, match="decoder_input_size"):
        xn.load(path)


def test_a_sequential_header_with_encoder_decoder_fields_is_refused(saved, tmp_path):
    header, arrays = _parts(saved)
    path = _write(tmp_path / "s.npz", _edit_config(header, model=_DROP, transformer=_DROP), arrays)
    with pytest.raises(xn.ModelFileError, match="config"):
        xn.load(path)


def test_crafted_but_consistent_file_still_loads(saved, tmp_path):
    header, arrays = _parts(saved)
    header["metadata"] = {"note": "edited"}
    loaded = xn.load(_write(tmp_path / "ok.npz", header, arrays))
    assert isinstance(loaded, xn.Transformer) and xn.read_header(tmp_path / "ok.npz")["metadata"]["note"] == "edited"
    assert loaded.parameters().keys() == _host(xn.load(saved)).keys()
    assert (T_ENC,) == loaded.input_shapes[0] and (T_DEC,) == loaded.input_shapes[1]


def test_xpnet_predict_on_an_encoder_decoder_file_is_one_clear_line(saved, capsys):
    from xpnet import cli

    code = cli.main(["predict", str(saved), "flower"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "holds a Transformer" in err and "greedy_decode" in err
