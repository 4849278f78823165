"""Reference values for llm.attention, from PyTorch (float64).

    .venv/bin/python tests/reference/make_reference.py llm_attention

For every case: the inputs, the parameters, an upstream gradient G, PyTorch's forward output and the
gradients of sum(G * output) with respect to every input and every parameter. Tensors are stored as
{"shape": [...], "data": [...]} (row-major). Masks are stored with aimastery's meaning where they differ
from PyTorch's (see each case); the C++ tests load the same inputs (cast to float for the float tests).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

import refjson


def _t(x):
    """A tensor (numpy array or torch tensor) as {"shape", "data"}."""
    if isinstance(x, torch.Tensor):
        x = x.detach().numpy()
    x = np.asarray(x)
    if x.dtype == np.bool_:
        return {"shape": list(x.shape), "data": [bool(v) for v in x.reshape(-1)]}
    return {"shape": list(x.shape), "data": x.reshape(-1).astype(np.float64)}


def _leaf(x):
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


# --------------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# --------------------------------------------------------------------------------------------------
def sdpa(rng):
    cases = {}

    def case(name, B, H, Lq, Lk, D, Dv, attn_mask=None, is_causal=False, scale=None, extra=None):
        q = rng.normal(size=(B, H, Lq, D))
        k = rng.normal(size=(B, H, Lk, D))
        v = rng.normal(size=(B, H, Lk, Dv))
        g = rng.normal(size=(B, H, Lq, Dv))
        Q, K, V = _leaf(q), _leaf(k), _leaf(v)
        m = None if attn_mask is None else torch.tensor(attn_mask)
        O = F.scaled_dot_product_attention(Q, K, V, attn_mask=m, is_causal=is_causal, scale=scale)
        (torch.tensor(g) * O).sum().backward()
        # The attention weights, formed explicitly the same way (PyTorch's math path).
        s = scale if scale is not None else 1.0 / math.sqrt(D)
        S = (torch.tensor(q) @ torch.tensor(k).transpose(-1, -2)) * s
        if is_causal:
            S = S.masked_fill(torch.ones(Lq, Lk, dtype=torch.bool).triu(1), float("-inf"))
        if m is not None:
            S = S.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else S + m
        W = torch.softmax(S, dim=-1)
        out = {"q": _t(q), "k": _t(k), "v": _t(v), "g": _t(g), "o": _t(O), "weights": _t(W),
               "dq": _t(Q.grad), "dk": _t(K.grad), "dv": _t(V.grad), "causal": is_causal,
               "scale": scale if scale is not None else "default"}
        if attn_mask is not None:
            out["mask_kind"] = "boolean" if attn_mask.dtype == np.bool_ else "additive"
            out["mask"] = _t(attn_mask)
        if extra:
            out.update(extra)
        cases[name] = out

    B, H = 2, 3
    case("none", B, H, 5, 7, 4, 3)
    case("causal", B, H, 6, 6, 4, 4, is_causal=True)
    case("causal_rectangular", B, H, 4, 7, 4, 3, is_causal=True)
    case("scale", B, H, 5, 7, 4, 3, scale=0.3)
    allowed = rng.random((5, 7)) > 0.4
    allowed[:, 0] = True  # every row keeps a key (PyTorch gives NaN for a fully masked row)
    case("boolean_2d", B, H, 5, 7, 4, 3, attn_mask=allowed)
    allowed4 = rng.random((B, 1, 5, 7)) > 0.5
    allowed4[..., 2] = True
    case("boolean_per_batch", B, H, 5, 7, 4, 3, attn_mask=allowed4)
    additive = rng.normal(size=(B, H, 5, 7))
    additive[0, 1, 2, 3] = -np.inf
    additive[1, 0, :, 4] = -np.inf
    case("additive", B, H, 5, 7, 4, 3, attn_mask=additive)
    # Key padding: batch element b has lengths[b] real keys. PyTorch: a (B, 1, 1, Lk) boolean mask.
    lengths = [7, 4]
    keep = np.array([[j < n for j in range(7)] for n in lengths])
    case("key_padding", B, H, 5, 7, 4, 3, attn_mask=keep[:, None, None, :], extra={"keys_allowed": _t(keep)})
    # Key padding and causal together: PyTorch takes them as one boolean mask; aimastery as a key mask
    # plus causal = true ("cpp_causal").
    tril = np.tril(np.ones((7, 7), dtype=bool))
    case("key_padding_causal", B, H, 7, 7, 4, 3, attn_mask=keep[:, None, None, :] & tril,
         extra={"keys_allowed": _t(keep), "cpp_causal": True})
    return cases


# --------------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------------
def _params(module):
    return {name: _t(p) for name, p in module.named_parameters()}


def _grads(module):
    return {name: _t(p.grad) for name, p in module.named_parameters()}


def _randomise(module, rng, scale=0.5):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.tensor(rng.normal(scale=scale, size=tuple(p.shape))))


def layer_norm(rng):
    cases = {}
    for name, eps in (("default", 1e-5), ("bert", 1e-12)):
        x = rng.normal(loc=3.0, scale=2.0, size=(2, 4, 6))
        g = rng.normal(size=(2, 4, 6))
        ln = torch.nn.LayerNorm(6, eps=eps).double()
        _randomise(ln, rng)
        with torch.no_grad():
            ln.weight.add_(1.0)
        X = _leaf(x)
        Y = ln(X)
        (torch.tensor(g) * Y).sum().backward()
        cases[name] = {"eps": eps, "x": _t(x), "g": _t(g), "y": _t(Y), "dx": _t(X.grad), "params": _params(ln),
                       "grads": _grads(ln)}
    return cases


class FFN(torch.nn.Module):
    """linear2(dropout(f(linear1(x)))), the names of nn.TransformerEncoderLayer."""

    def __init__(self, d, hidden, activation):
        super().__init__()
        self.linear1 = torch.nn.Linear(d, hidden)
        self.linear2 = torch.nn.Linear(hidden, d)
        self.activation = activation

    def forward(self, x):
        return self.linear2(self.activation(self.linear1(x)))


def ffn(rng):
    cases = {}
    for name, f in (("relu", F.relu), ("gelu", lambda x: F.gelu(x)), ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"))):
        x = rng.normal(size=(2, 3, 6))
        g = rng.normal(size=(2, 3, 6))
        m = FFN(6, 10, f).double()
        _randomise(m, rng)
        X = _leaf(x)
        Y = m(X)
        (torch.tensor(g) * Y).sum().backward()
        cases[name] = {"x": _t(x), "g": _t(g), "y": _t(Y), "dx": _t(X.grad), "params": _params(m), "grads": _grads(m)}
    return cases


def mha(rng):
    cases = {}
    E, H, B = 8, 2, 2

    def run(name, L, S, self_attention, key_padding=None, attn_mask=None, is_causal=False):
        m = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
        _randomise(m, rng)
        g = rng.normal(size=(B, L, E))
        if self_attention:
            x = rng.normal(size=(B, L, E))
            X = _leaf(x)
            Qt = Kt = Vt = X
        else:
            q, k, v = rng.normal(size=(B, L, E)), rng.normal(size=(B, S, E)), rng.normal(size=(B, S, E))
            Qt, Kt, Vt = _leaf(q), _leaf(k), _leaf(v)
        kp = None if key_padding is None else torch.tensor(key_padding)
        am = None if attn_mask is None else torch.tensor(attn_mask)
        Y, _ = m(Qt, Kt, Vt, key_padding_mask=kp, attn_mask=am, need_weights=False, is_causal=is_causal)
        (torch.tensor(g) * Y).sum().backward()
        out = {"self": self_attention, "g": _t(g), "y": _t(Y), "params": _params(m), "grads": _grads(m),
               "causal": is_causal}
        if self_attention:
            out.update({"x": _t(x), "dx": _t(X.grad)})
        else:
            out.update({"query": _t(q), "key": _t(k), "value": _t(v), "dquery": _t(Qt.grad), "dkey": _t(Kt.grad),
                        "dvalue": _t(Vt.grad)})
        if key_padding is not None:
            out["key_padding"] = _t(key_padding)  # PyTorch's meaning: true = padding (ignored)
        if attn_mask is not None:
            # Stored with aimastery's (SDPA) meaning, true = may attend, as (B, H, L, S) or (L, S).
            allowed = ~attn_mask
            if allowed.ndim == 3:
                allowed = allowed.reshape(B, H, L, S)
            out["allowed"] = _t(allowed)
        cases[name] = out

    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])
    run("self_key_padding", 5, 5, True, key_padding=pad)
    pad6 = np.array([[False] * 6, [False] * 4 + [True] * 2])
    disallowed = rng.random((4, 6)) > 0.7
    disallowed[:, 0] = False
    run("cross_key_padding_mask", 4, 6, False, key_padding=pad6, attn_mask=disallowed)
    per_head = rng.random((B * H, 5, 5)) > 0.6
    per_head[:, :, 1] = False
    run("self_per_batch_head_mask", 5, 5, True, attn_mask=per_head)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    run("self_causal", 5, 5, True, key_padding=pad, attn_mask=causal, is_causal=True)
    return cases


def encoder(rng):
    cases = {}
    E, H, B, L, FF = 8, 2, 2, 5, 12
    pad = np.array([[False] * 5, [False] * 3 + [True] * 2])
    for name, norm_first, activation, eps in (("post_norm_relu", False, "relu", 1e-5),
                                              ("norm_first_gelu", True, "gelu", 1e-5),
                                              ("post_norm_gelu_bert_eps", False, "gelu", 1e-12)):
        layer = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=FF, dropout=0.0, activation=activation,
                                                 layer_norm_eps=eps, batch_first=True,
                                                 norm_first=norm_first).double()
        _randomise(layer, rng)
        with torch.no_grad():
            layer.norm1.weight.add_(1.0)
            layer.norm2.weight.add_(1.0)
        x = rng.normal(size=(B, L, E))
        g = rng.normal(size=(B, L, E))
        X = _leaf(x)
        Y = layer(X, src_key_padding_mask=torch.tensor(pad))
        (torch.tensor(g) * Y).sum().backward()
        cases[name] = {"norm_first": norm_first, "activation": activation, "eps": eps, "dim_feedforward": FF,
                       "nhead": H, "key_padding": _t(pad), "x": _t(x), "g": _t(g), "y": _t(Y), "dx": _t(X.grad),
                       "params": _params(layer), "grads": _grads(layer)}
    return cases


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(rng):
    """RoPE written out in PyTorch (Hugging Face's rotate_half layout and the interleaved one)."""
    cases = {}
    B, H, L, D, offset, base = 2, 2, 5, 6, 3, 10000.0
    inv_freq = base ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    pos = torch.arange(offset, offset + L, dtype=torch.float64)
    angles = torch.outer(pos, inv_freq)  # L × D/2
    for interleaved in (False, True):
        x = rng.normal(size=(B, H, L, D))
        g = rng.normal(size=(B, H, L, D))
        X = _leaf(x)
        if interleaved:
            cos = angles.cos().repeat_interleave(2, dim=-1)
            sin = angles.sin().repeat_interleave(2, dim=-1)
            pairs = torch.stack((-X[..., 1::2], X[..., 0::2]), dim=-1).reshape(X.shape)
            Y = X * cos + pairs * sin
        else:
            cos = torch.cat((angles.cos(), angles.cos()), dim=-1)
            sin = torch.cat((angles.sin(), angles.sin()), dim=-1)
            Y = X * cos + rotate_half(X) * sin
        (torch.tensor(g) * Y).sum().backward()
        cases["interleaved" if interleaved else "rotate_half"] = {"offset": offset, "base": base, "x": _t(x),
                                                                  "g": _t(g), "y": _t(Y), "dx": _t(X.grad)}
    # The sinusoidal table of the PyTorch transformer tutorial, for (positions 7, d 6).
    P, d = 7, 6
    position = torch.arange(P, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(P, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    cases["sinusoidal"] = {"positions": P, "dim": d, "table": _t(pe)}
    return cases


def generate(out_dir):
    torch.manual_seed(0)
    rng = np.random.default_rng(20260109)
    refjson.write(out_dir, "llm_attention_sdpa.json", sdpa(rng))
    refjson.write(out_dir, "llm_attention_layer_norm.json", layer_norm(rng))
    refjson.write(out_dir, "llm_attention_ffn.json", ffn(rng))
    refjson.write(out_dir, "llm_attention_mha.json", mha(rng))
    refjson.write(out_dir, "llm_attention_encoder.json", encoder(rng))
    refjson.write(out_dir, "llm_attention_positional.json", rope(rng))
