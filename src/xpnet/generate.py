"""Generation: sampling from a language model, greedy and beam-search decoding of a seq2seq model.

Each step runs the trained network's ordinary forward pass over the whole prefix (what the
network computes is exactly what it was trained to compute, for any layer stack, at the cost
of O(T^2) work for T tokens: small at the lengths these models are used for) and reads the
distribution of the next token at the last step. The choice of each token is made on the
host, in Python, from a seeded :class:`random.Random`: the same seed gives the same text on
every backend.
"""

from __future__ import annotations

import math
import random

from array_api_compat import device

from ._validation import check_positive, check_positive_int
from .errors import XpnetTypeError, XpnetValueError
from .layers import Embedding

__all__ = ["sample", "greedy_decode", "beam_search"]


def _token_inputs(backend, dtype, first_layer, V, prefixes):
    """Prefixes (lists of ids, all of one length) as the network's input: ids (m, t) for an
    Embedding, else one-hot (V, m, 1 + t) behind an all-zero first step (the course's x<1> = 0)."""
    xp = backend.xp
    m = len(prefixes)
    if isinstance(first_layer, Embedding):
        return backend.asarray(prefixes, "int64") if prefixes[0] else None
    t = len(prefixes[0])
    ids = backend.asarray([[-1] + p for p in prefixes], "int64")  # -1: the zero step
    vocab = xp.reshape(xp.arange(V, dtype=ids.dtype, device=device(ids)), (V, 1, 1))
    return xp.astype(xp.reshape(ids, (1, m, t + 1)) == vocab, backend.dtype(dtype))


def _last_step_probs(backend, A):
    """Host lists p[j][v] of the next-token distribution at the last step of each example."""
    return backend.to_numpy(A[:, :, -1]).T.tolist()  # (m, V) nested lists of floats


def _with_temperature(p, temperature):
    if temperature == 1.0:
        return p
    logs = [math.log(x) / temperature if x > 0.0 else -math.inf for x in p]
    top = max(logs)
    w = [math.exp(v - top) for v in logs]
    total = sum(w)
    return [x / total for x in w]


def sample(net, num_samples=1, max_length=50, start=(), temperature=1.0, stop_id=None, seed=None):
    """Sample token sequences from a trained language model (a :class:`~xpnet.Sequential`
    whose output is a softmax over V tokens at every step).

    Parameters
    ----------
    net : Sequential
        Input token ids ``(m, T)`` (an Embedding first) or one-hot ``(V, m, T)``; output
        ``(V, m, T)``, the distribution of token t + 1 given tokens 1..t.
    num_samples : int
        Sequences drawn together (one batch).
    max_length : int
        Tokens drawn at most per sequence.
    start : sequence of int
        Token ids to begin with. May be empty for one-hot inputs: the first step then sees
        the all-zero vector, as the course's ``sample`` does; an Embedding needs one id.
    temperature : float
        > 0. Probabilities become p^(1/temperature), renormalised: < 1 sharpens (towards the
        most likely token), > 1 flattens.
    stop_id : int, optional
        A token that ends a sequence (e.g. the newline of a name); it is not returned.
    seed : int, optional
        Seeds the host :class:`random.Random` that draws the tokens.

    Returns
    -------
    list of list of int
        The drawn ids of each sequence, ``start`` not included.
    """
    num_samples = check_positive_int(num_samples, "num_samples")
    max_length = check_positive_int(max_length, "max_length")
    temperature = check_positive(temperature, "temperature")
    net.require_built()
    first = net.layers[0]
    V = net.n_out
    start = [int(i) for i in start]
    if isinstance(first, Embedding) and not start:
        raise XpnetValueError("a model with an Embedding first needs start=[id, ...] to condition on")
    rng = random.Random(seed)
    prefixes = [list(start) for _ in range(num_samples)]
    drawn = [[] for _ in range(num_samples)]
    done = [False] * num_samples
    with net.backend.context():
        for _ in range(max_length):
            X = _token_inputs(net.backend, net.dtype, first, V, prefixes)
            A, _ = net.forward(X)
            for j, p in enumerate(_last_step_probs(net.backend, A)):
                token = rng.choices(range(V), weights=_with_temperature(p, float(temperature)))[0]
                prefixes[j].append(token)
                if done[j]:
                    continue
                if token == stop_id:
                    done[j] = True
                else:
                    drawn[j].append(token)
            if all(done):
                break
    return drawn


def _check_decoder(model):
    from .functional import Seq2Seq

    if not isinstance(model, Seq2Seq):
        raise XpnetTypeError(f"decoding needs an xn.Seq2Seq (or Transformer) model, got {type(model).__name__}")
    if not isinstance(model.decoder[0], Embedding):
        raise XpnetTypeError("decoding feeds the decoder its own token ids: its first layer must be an Embedding")


def _repeat(xp, A, axis, k):
    return None if A is None else xp.concat([A] * k, axis=axis)


def greedy_decode(model, X_enc, start_id, max_length, stop_id=None):
    """Decode every source sentence by taking the most probable next token at each step.

    Parameters
    ----------
    model : Seq2Seq
        Trained with teacher forcing; its decoder begins with an Embedding.
    X_enc : array
        The encoder's input, as for :meth:`~xpnet.Seq2Seq.fit`.
    start_id : int
        The start token the decoder's input begins with.
    max_length : int
        Tokens produced per sentence at most.
    stop_id : int, optional
        End of sentence: a sentence is complete once it produces it (not returned).

    Returns
    -------
    list of list of int
    """
    _check_decoder(model)
    max_length = check_positive_int(max_length, "max_length")
    backend = model.backend
    with backend.context():
        m = _m(model, X_enc)
        Xe, _ = model._inputs(X_enc, [[start_id]] * m)
        memory, state, mask, _ = model.encode(Xe)
        prefixes = [[int(start_id)] for _ in range(m)]
        out, done = [[] for _ in range(m)], [False] * m
        for _ in range(max_length):
            A, _ = model.decode(backend.asarray(prefixes, "int64"), memory, state, mask)
            for j, p in enumerate(_last_step_probs(backend, A)):
                token = max(range(len(p)), key=p.__getitem__)
                prefixes[j].append(token)
                if done[j] or token == stop_id:
                    done[j] = True
                    continue
                out[j].append(token)
            if all(done):
                break
    return out


def _m(model, X_enc):
    first = model.encoder[0]
    shape = getattr(X_enc, "shape", None)
    if shape is None:
        return len(X_enc) if first.examples_axis == 0 else len(X_enc[0])
    return int(shape[first.examples_axis])


def beam_search(model, X_enc, start_id, max_length, beam_width=3, stop_id=None, length_penalty=0.0):
    """Decode every source sentence by beam search: keep the ``beam_width`` most probable prefixes.

    A finished hypothesis (ending in ``stop_id``, or at ``max_length``) is scored
    log P(y | x) / len(y)^length_penalty: 0 (default) compares plain probabilities; the
    course's length normalisation uses about 0.7.

    Returns
    -------
    list of list of int
        The best sentence of each source, ``start_id`` and ``stop_id`` left out.
    """
    _check_decoder(model)
    max_length = check_positive_int(max_length, "max_length")
    k = check_positive_int(beam_width, "beam_width")
    backend, xp = model.backend, model.xp
    results = []
    with backend.context():
        Xe_all, _ = model._inputs(X_enc, [[start_id]] * _m(model, X_enc))
        ax = model.encoder[0].examples_axis
        for j in range(int(Xe_all.shape[ax])):
            Xe = Xe_all[j : j + 1, ...] if ax == 0 else Xe_all[:, j : j + 1, ...]
            memory, state, mask, _ = model.encode(Xe)
            beams, finished = [(0.0, [int(start_id)])], []
            for step in range(max_length):
                n = len(beams)
                st = None if state is None else tuple(_repeat(xp, s, 1, n) for s in state)
                A, _ = model.decode(backend.asarray([b[1] for b in beams], "int64"), _repeat(xp, memory, 1, n), st,
                                    _repeat(xp, mask, 0, n))
                candidates = []
                for (score, seq), p in zip(beams, _last_step_probs(backend, A)):
                    for token, q in enumerate(p):
                        if q > 0.0:
                            candidates.append((score + math.log(q), seq + [token]))
                candidates.sort(key=lambda c: c[0], reverse=True)
                beams = []
                for score, seq in candidates[:k]:  # the k best continuations; the finished leave the beam
                    if seq[-1] == stop_id or step == max_length - 1:
                        finished.append((score, seq))
                    else:
                        beams.append((score, seq))
                if not beams:
                    break
            best = max(finished or beams, key=lambda c: c[0] / max(1, len(c[1]) - 1) ** length_penalty)
            seq = best[1][1:]
            results.append(seq[:-1] if seq and seq[-1] == stop_id else seq)
    return results
