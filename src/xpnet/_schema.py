"""The schema of a model file's JSON header: every field's type and range, checked before use.

Kept apart from :mod:`xpnet.io` (the archive) so that it reads as one list of rules; it
needs no array library.
"""

from __future__ import annotations

import math
import re

from .errors import ModelFileError

__all__ = ["FORMAT", "FORMAT_VERSION", "MODELS", "LIMITS", "OPTIMIZERS", "DTYPES", "check_header", "is_int"]

FORMAT = "xpnet-model"
#: 2 added encoder-decoder models (``config.model``); Sequential files are still written as 1.
FORMAT_VERSION = 2
#: The model classes a file may hold besides Sequential (``config.model``).
MODELS = ("Seq2Seq", "Transformer")
#: Each optimiser's state arrays, by prefix: ``v_W1`` (velocity / first moment), ``s_W1`` (second moment).
OPTIMIZERS = {"GradientDescent": (), "Momentum": ("v",), "RMSprop": ("s",), "Adam": ("v", "s")}
#: Bounds a file must respect before anything is built from it (far above any real model).
LIMITS = {"header_bytes": 64 * 2**20, "layers": 10_000, "members": 100_000}
DTYPES = {"float32": "<f4", "float64": "<f8"}


def _fail(path, field_name, why) -> ModelFileError:
    return ModelFileError(f"{path!r}: {field_name}: {why}")


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _need(ok: bool, path, field_name, why):
    if not ok:
        raise _fail(path, field_name, why)


def check_header(h: dict, path: str = "<header>") -> None:
    """Check every field's type and range; raise ModelFileError naming the first bad one."""
    _need(isinstance(h.get("digest"), str) and re.fullmatch(r"[0-9a-f]{64}", h["digest"]) is not None,
          path, "digest", "missing or not a SHA-256 hex string")
    config = h.get("config")
    _need(isinstance(config, dict), path, "config", "missing or not an object")
    _check_size(config.get("input_size"), path, "config.input_size")
    _need(config.get("dtype") in DTYPES, path, "config.dtype", f"must be one of {list(DTYPES)}")
    _need(is_int(config.get("seed")) and 0 <= config["seed"] < 2**128, path, "config.seed", "must be an int >= 0")
    layers = config.get("layers")
    _need(isinstance(layers, list) and 1 <= len(layers) <= LIMITS["layers"], path, "config.layers",
          f"must be a list of 1 to {LIMITS['layers']} layers")
    for i, spec in enumerate(layers):
        _need(isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
              and isinstance(spec.get("config"), dict), path, f"config.layers[{i}]",
              "must be an object with a class_name (str) and a config (object)")
    _check_encoder_decoder(h, config, path)
    _need(h.get("loss") is None or isinstance(h["loss"], str), path, "loss", "must be a loss name or null")
    _check_optimizer(h.get("optimizer"), path)
    _need(is_int(h.get("epochs_trained")) and h["epochs_trained"] >= 0, path, "epochs_trained",
          f"must be an int >= 0, got {h.get('epochs_trained')!r}")
    _need(h.get("shuffle_rng") is None or isinstance(h["shuffle_rng"], dict), path, "shuffle_rng",
          "must be a generator state (object) or null")
    dropout = h.get("dropout", {})
    _need(isinstance(dropout, dict) and all(
        re.fullmatch(r"[0-9]{1,6}(\.[A-Za-z_][A-Za-z0-9_]{0,63})?", k) and isinstance(v, list) and len(v) == 2
        and all(is_int(n) and 0 <= n < 2**64 for n in v)
        for k, v in dropout.items()), path, "dropout",
        "must be an object of layer index (or index.sub_layer) -> [seed, step] (ints >= 0)")
    history = h.get("history")
    _need(isinstance(history, dict), path, "history", "must be an object of per-epoch lists")
    for key, values in history.items():
        _need(isinstance(values, list) and all(v is None or _is_number(v) for v in values), path,
              f"history.{key}", "must be a list of numbers (or null)")
    _need(isinstance(h.get("metadata"), dict), path, "metadata", "must be an object")
    names = h.get("parameters")
    _need(isinstance(names, list) and all(isinstance(n, str) and _NAME.fullmatch(n) for n in names)
          and len(set(names)) == len(names), path, "parameters", "must be a list of distinct parameter names")


def _check_size(size, path, field_name) -> None:
    sizes = [size] if is_int(size) else size
    _need(isinstance(sizes, list) and 0 < len(sizes) <= 8 and all(s is None or (is_int(s) and s >= 1) for s in sizes)
          and sizes[0] is not None, path, field_name, f"must be a positive int or list of them, got {size!r}")


def _check_encoder_decoder(h: dict, config: dict, path) -> None:
    """``model``, ``encoder_layers``, ``decoder_input_size``, ``mask_zero`` (and ``transformer``)."""
    model = config.get("model")
    if model is None:
        _need(not {"encoder_layers", "decoder_input_size", "mask_zero", "transformer"} & set(config), path,
              "config", "encoder-decoder fields without config.model")
        return
    _need(model in MODELS, path, "config.model", f"unknown model {model!r}; known: Sequential (no field), "
                                                 f"{', '.join(MODELS)}")
    _need(is_int(h.get("version")) and h["version"] >= 2, path, "version", f"{model} files are version 2 or later")
    layers = config.get("layers")
    n = len(layers) if isinstance(layers, list) else 0
    k = config.get("encoder_layers")
    _need(is_int(k) and 1 <= k < n, path, "config.encoder_layers",
          f"must be an int from 1 to the number of layers - 1 ({n - 1}), got {k!r}")
    _check_size(config.get("decoder_input_size"), path, "config.decoder_input_size")
    _need(isinstance(config.get("mask_zero"), bool), path, "config.mask_zero", "must be true or false")
    args = config.get("transformer")
    _need((args is None) == (model != "Transformer"), path, "config.transformer",
          "a Transformer needs its arguments (and only a Transformer has them)")
    if args is not None:
        _need(isinstance(args, dict) and all(isinstance(k, str) and _is_number(v) for k, v in args.items()),
              path, "config.transformer", "must be an object of numeric arguments")


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def _check_optimizer(spec, path) -> None:
    if spec is None:
        return
    _need(isinstance(spec, dict), path, "optimizer", "must be an object or null")
    _need(spec.get("class_name") in OPTIMIZERS, path, "optimizer.class_name",
          f"unknown optimizer {spec.get('class_name')!r}; known: {', '.join(OPTIMIZERS)}")
    config = spec.get("config")
    _need(isinstance(config, dict) and all(isinstance(k, str) and _is_number(v) for k, v in config.items()),
          path, "optimizer.config", "must be an object of numeric hyperparameters")
    _need(is_int(spec.get("iterations")) and spec["iterations"] >= 0, path, "optimizer.iterations",
          f"must be an int >= 0, got {spec.get('iterations')!r}")
    state = spec.get("state")
    _need(isinstance(state, list) and all(isinstance(k, str) and _NAME.fullmatch(k) for k in state)
          and len(set(state)) == len(state), path, "optimizer.state", "must be a list of distinct state names")
