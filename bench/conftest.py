"""pytest-benchmark settings for the xpnet suite.

``python -m pytest`` collects this folder once with ``--benchmark-disable`` (see
pyproject.toml): every case then runs once, at a reduced size, so the suite cannot rot.
``xpnet bench --full`` (or ``pytest bench --benchmark-enable``) times the real sizes.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def timing(request):
    """True when benchmarks are enabled (real sizes); False under --benchmark-disable."""
    config = request.config
    # --benchmark-enable overrides a --benchmark-disable from the configuration (pytest-benchmark's rule).
    return config.getoption("benchmark_enable", default=False) or not config.getoption("benchmark_disable", default=False)


def pytest_benchmark_update_machine_info(config, machine_info):
    # The JSON then says which BLAS, torch, GPU and library versions a result came from.
    from xpnet.benchmarks import machine_info as xpnet_machine_info

    machine_info["xpnet"] = xpnet_machine_info()


@pytest.fixture
def run_script(tmp_path):
    """Run ``bench/<name>.py``'s ``main(args + ["--json", ...])``; the JSON it wrote, as a dict.

    The smoke tests of the interleaved-ratio scripts use it, so that those scripts cannot rot.
    """

    def run(name: str, *args: str) -> dict:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(name + ".py"))
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        path = tmp_path / (name + ".json")
        assert script.main([*args, "--json", str(path)]) == 0
        return json.loads(path.read_text())

    return run
