"""The backend registry: names, aliases, selection order, errors, device placement."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet.backends import ENV_VAR, resolve_backend
from xpnet.backends.cupy_backend import CupyBackend


def test_cpu_backends_are_available():
    names = xn.available_backends()
    assert names[:2] == ["numpy", "array_api_strict"] or {"numpy", "array_api_strict"} <= set(names)
    assert set(names) <= set(xn.registered_backends())


@pytest.mark.parametrize("alias, name", [("cpu", "numpy"), ("numpy", "numpy"), ("strict", "array_api_strict")])
def test_aliases(alias, name):
    assert xn.get_backend(alias).name == name


def test_auto_is_cupy_only_with_a_gpu():
    expected = "cupy" if CupyBackend.is_available() else "numpy"
    assert xn.get_backend("auto").name == expected


def test_unknown_backend_lists_the_valid_names():
    with pytest.raises(xn.XpnetValueError, match="valid names are: .*numpy"):
        xn.get_backend("tensorflow")


@pytest.mark.skipif(CupyBackend.is_available(), reason="a CUDA device is present")
def test_gpu_without_a_gpu_raises_with_the_install_hint():
    with pytest.raises(xn.BackendUnavailableError) as info:
        xn.get_backend("gpu")
    message = str(info.value)
    assert "cupy" in message.lower()
    assert "pip install 'xpnet[cuda12]'" in message


def test_is_available_never_raises(monkeypatch):
    import xpnet.backends.cupy_backend as cb

    class Broken:
        class cuda:
            @staticmethod
            def is_available():
                raise RuntimeError("driver exploded")

    monkeypatch.setitem(sys.modules, "cupy", Broken)
    assert cb.CupyBackend.is_available() is False
    assert "driver exploded" in cb.CupyBackend.unavailable_reason()


def test_use_backend_scopes_and_restores():
    before = resolve_backend().name
    with xn.use_backend("array_api_strict") as b:
        assert b.name == "array_api_strict"
        assert resolve_backend().name == "array_api_strict"
        with xn.use_backend("numpy"):
            assert resolve_backend().name == "numpy"
        assert resolve_backend().name == "array_api_strict"
    assert resolve_backend().name == before


def test_use_backend_restores_on_exception():
    before = resolve_backend().name
    with pytest.raises(KeyError):
        with xn.use_backend("array_api_strict"):
            raise KeyError("boom")
    assert resolve_backend().name == before


def test_use_backend_as_global_setter(monkeypatch):
    import xpnet.backends as backends

    token = backends._current.set(None)
    try:
        xn.use_backend("array_api_strict")
        assert resolve_backend().name == "array_api_strict"
        net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=3)
        assert net.backend.name == "array_api_strict"
    finally:
        backends._current.reset(token)


def test_selection_order(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "array_api_strict")
    assert resolve_backend().name == "array_api_strict"  # env beats auto
    with xn.use_backend("numpy"):
        assert resolve_backend().name == "numpy"  # scope beats env
        assert resolve_backend("array_api_strict").name == "array_api_strict"  # explicit beats scope
    monkeypatch.delenv(ENV_VAR)
    assert resolve_backend().name == xn.get_backend("auto").name


def test_env_var_is_read_lazily(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "array_api_strict")
    net = xn.Sequential([xn.Dense(1)], input_size=2)
    assert net.backend.name == "array_api_strict"


def test_import_xpnet_imports_no_cupy():
    code = "import sys, xpnet; xpnet.available_backends(); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # available_backends() may look for CuPy, but a plain import must not.
    code = "import sys, xpnet; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_register_backend_and_entry_point_style_factory():
    from xpnet.backends import NumpyBackend, unregister_backend

    class Tagged(NumpyBackend):
        pass

    xn.register_backend("tagged_numpy", lambda device=None: Tagged(name="tagged_numpy"))
    try:
        assert "tagged_numpy" in xn.available_backends()
        assert xn.get_backend("tagged_numpy").name == "tagged_numpy"
        with pytest.raises(xn.XpnetValueError, match="already registered"):
            xn.register_backend("tagged_numpy", Tagged)
    finally:
        unregister_backend("tagged_numpy")
    assert "tagged_numpy" not in xn.registered_backends()
    with pytest.raises(xn.XpnetValueError, match="no backend named 'tagged_numpy'"):
        xn.backends.backend_factory("tagged_numpy")


def test_unavailable_registered_backend_is_not_listed():
    from xpnet.backends import NumpyBackend, unregister_backend

    class Missing(NumpyBackend):
        @classmethod
        def is_available(cls):
            return False

        @classmethod
        def unavailable_reason(cls):
            return "libfoo is missing; pip install foo"

    xn.register_backend("missing", Missing)
    try:
        assert "missing" not in xn.available_backends()
        with pytest.raises(xn.BackendUnavailableError, match="pip install foo"):
            xn.get_backend("missing")
    finally:
        unregister_backend("missing")


def test_round_trip_host_device(backend):
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    dev = backend.asarray(host, "float32")
    host[0, 0] = 99.0  # the device copy must not share memory with the caller's array
    back = backend.to_numpy(dev)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, np.arange(6, dtype=np.float32).reshape(2, 3))
    assert xn.to_numpy(dev).tolist() == back.tolist()
    assert xn.backend_of(dev).name == backend.name
    backend.synchronize()


def test_device_placement_on_strict_extra_device():
    import array_api_strict as strict

    b = xn.get_backend("array_api_strict:device1")
    assert b.device == strict.Device("device1")
    net = xn.Sequential([xn.Dense(3, activation="relu"), xn.Dense(1, activation="sigmoid")],
                        input_size=2, backend=b, dtype="float64", seed=0)
    assert all(v.device == strict.Device("device1") for v in net.parameters().values())
    # Data on the default device is moved to the model's device, not rejected.
    X = strict.asarray(np.ones((2, 5)))
    Y = strict.asarray(np.ones((1, 5)))
    net.fit(X, Y, learning_rate=0.1, epochs=2)
    out = net.predict_proba(X)
    assert out.device == strict.Device("device1")
    assert all(v.device == strict.Device("device1") for v in net.parameters().values())


def test_array_of_another_library_is_refused_with_the_fix():
    import array_api_strict as strict

    net = xn.Sequential([xn.Dense(1, activation="sigmoid")], input_size=2, backend="numpy")
    with pytest.raises(xn.XpnetTypeError, match=r"array_api_strict array .* net.to\('array_api_strict'\)"):
        net.predict(strict.asarray(np.ones((2, 3))))
