"""Reference values for the deep-learning layers and losses, from PyTorch (float64).

For every layer: the inputs, the weights, an upstream gradient G, and PyTorch's forward output and the
gradients of sum(G * output) with respect to the input and every parameter. For every loss: the loss and
its gradient with respect to the prediction. The C++ tests load the same inputs (cast to float for the
float tests) and compare.
"""
import numpy as np
import torch

import refjson


def _np(t):
    return t.detach().numpy()


def _layer_case(module, x, g):
    """Forward output and gradients of sum(g * module(x)) w.r.t. x and every parameter."""
    x = torch.tensor(x, requires_grad=True)
    y = module(x)
    (torch.tensor(g) * y).sum().backward()
    out = {"x": x.detach().numpy(), "g": g, "y": _np(y), "dx": _np(x.grad)}
    for name, p in module.named_parameters():
        out["d" + name] = _np(p.grad)
    return out


def dense(rng):
    x = rng.normal(size=(5, 4))
    g = rng.normal(size=(5, 3))
    cases = {}
    for bias in (True, False):
        linear = torch.nn.Linear(4, 3, bias=bias).double()
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rng.normal(size=(3, 4))))
            if bias:
                linear.bias.copy_(torch.tensor(rng.normal(size=(3,))))
        case = _layer_case(linear, x, g)
        case["weight"] = _np(linear.weight)
        if bias:
            case["bias"] = _np(linear.bias).reshape(1, -1)
            case["dbias"] = case["dbias"].reshape(1, -1)
        cases["bias" if bias else "no_bias"] = case
    return cases


def activations(rng):
    x = rng.normal(scale=2.0, size=(6, 5))
    x[0, 0] = 30.0  # saturated sigmoid/tanh/softmax entries
    x[1, 1] = -30.0
    g = rng.normal(size=(6, 5))
    functions = {
        "identity": torch.nn.Identity(),
        "relu": torch.nn.ReLU(),
        "leaky_relu": torch.nn.LeakyReLU(negative_slope=0.2),
        "sigmoid": torch.nn.Sigmoid(),
        "tanh": torch.nn.Tanh(),
        "softmax": torch.nn.Softmax(dim=1),
        "gelu": torch.nn.GELU(approximate="none"),
        "gelu_tanh": torch.nn.GELU(approximate="tanh"),
    }
    return {"leaky_relu_negative_slope": 0.2,
            "cases": {name: _layer_case(f, x, g) for name, f in functions.items()}}


def dropout(rng):
    x = rng.normal(size=(6, 5))
    g = rng.normal(size=(6, 5))
    rate = 0.3
    layer = torch.nn.Dropout(p=rate)
    layer.eval()
    evaluation = _layer_case(layer, x, g)
    # Training: the kept entries are scaled by 1/(1 - rate) (the mask itself is PyTorch's own draw).
    layer.train()
    torch.manual_seed(0)
    x = rng.normal(size=(200, 50))
    xt = torch.tensor(x)
    y = _np(layer(xt))
    kept = y != 0
    scale = float(np.median(y[kept] / x[kept]))
    return {"rate": rate, "eval": evaluation, "train_scale": scale, "train_kept_fraction": float(kept.mean())}


def batch_normalization(rng):
    features = 4
    x1 = rng.normal(loc=1.0, scale=2.0, size=(8, features))
    x2 = rng.normal(loc=-0.5, scale=0.7, size=(8, features))
    x3 = rng.normal(size=(5, features))
    g1 = rng.normal(size=(8, features))
    g2 = rng.normal(size=(8, features))
    g3 = rng.normal(size=(5, features))
    weight = rng.normal(loc=1.0, scale=0.3, size=(features,))
    bias = rng.normal(scale=0.3, size=(features,))
    bn = torch.nn.BatchNorm1d(features, eps=1e-5, momentum=0.1).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(weight))
        bn.bias.copy_(torch.tensor(bias))
    row = lambda t: _np(t).reshape(1, -1).copy()
    out = {"eps": 1e-5, "momentum": 0.1, "weight": weight.reshape(1, -1), "bias": bias.reshape(1, -1)}

    # Two training steps without zero_grad: parameter gradients accumulate.
    steps = []
    for x, g in ((x1, g1), (x2, g2)):
        xt = torch.tensor(x, requires_grad=True)
        y = bn(xt)
        (torch.tensor(g) * y).sum().backward()
        steps.append({"x": x, "g": g, "y": _np(y), "dx": _np(xt.grad), "dweight": row(bn.weight.grad),
                      "dbias": row(bn.bias.grad), "running_mean": row(bn.running_mean),
                      "running_var": row(bn.running_var)})
    out["train"] = steps

    bn.eval()
    bn.weight.grad = None
    bn.bias.grad = None
    case = _layer_case(bn, x3, g3)
    case["dweight"] = case["dweight"].reshape(1, -1)
    case["dbias"] = case["dbias"].reshape(1, -1)
    out["eval"] = case
    return out


def _loss_case(loss, prediction, target, target_kind):
    p = torch.tensor(prediction, requires_grad=True)
    t = torch.tensor(target)
    value = loss(p, t)
    value.backward()
    return {"prediction": prediction, "target": target, "target_kind": target_kind, "loss": value.item(),
            "grad": _np(p.grad)}


def losses(rng):
    cases = []

    pred = rng.normal(size=(5, 3))
    target = rng.normal(size=(5, 3))
    for reduction in ("mean", "sum"):
        case = _loss_case(torch.nn.MSELoss(reduction=reduction), pred, target, "matrix")
        cases.append(dict(case, loss_name="mse", reduction=reduction))

    logits = rng.normal(scale=2.0, size=(6, 4))
    logits[0] = [40.0, -40.0, 0.0, 1.0]  # far from uniform: the fused log-softmax matters
    labels = np.array([0, 3, 1, 2, 1, 0], dtype=np.int64)
    soft = rng.random(size=(6, 4))
    soft /= soft.sum(axis=1, keepdims=True)
    for reduction in ("mean", "sum"):
        for smoothing in (0.0, 0.15):
            loss = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
            case = _loss_case(loss, logits, labels, "labels")
            cases.append(dict(case, loss_name="cross_entropy", reduction=reduction, label_smoothing=smoothing))
            case = _loss_case(loss, logits, soft, "matrix")
            cases.append(dict(case, loss_name="cross_entropy", reduction=reduction, label_smoothing=smoothing))

    z = rng.normal(scale=3.0, size=(6, 2))
    z[0, 0], z[1, 1] = 60.0, -60.0  # stable form: no overflow for large |z|
    y = rng.random(size=(6, 2))
    y[0, 0], y[1, 1] = 0.0, 1.0
    probabilities = 1.0 / (1.0 + np.exp(-rng.normal(size=(6, 2))))
    probabilities[2, 0], probabilities[3, 1] = 0.0, 1.0  # log clamped to -100
    for reduction in ("mean", "sum"):
        case = _loss_case(torch.nn.BCEWithLogitsLoss(reduction=reduction), z, y, "matrix")
        cases.append(dict(case, loss_name="bce", from_logits=True, reduction=reduction))
        case = _loss_case(torch.nn.BCELoss(reduction=reduction), probabilities, y, "matrix")
        cases.append(dict(case, loss_name="bce", from_logits=False, reduction=reduction))

    # Binary labels for a single-column prediction.
    z1 = rng.normal(scale=2.0, size=(7, 1))
    binary = np.array([0, 1, 1, 0, 1, 0, 0], dtype=np.int64)
    case = _loss_case(torch.nn.BCEWithLogitsLoss(), z1, binary.reshape(-1, 1).astype(np.float64), "matrix")
    case["target"] = binary
    case["target_kind"] = "labels"
    cases.append(dict(case, loss_name="bce", from_logits=True, reduction="mean"))
    return {"cases": cases}


def generate(out_dir):
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(20260404)
    refjson.write(out_dir, "dl_layers_dense.json", dense(rng))
    refjson.write(out_dir, "dl_layers_activations.json", activations(rng))
    refjson.write(out_dir, "dl_layers_dropout.json", dropout(rng))
    refjson.write(out_dir, "dl_layers_batch_normalization.json", batch_normalization(rng))
    refjson.write(out_dir, "dl_layers_losses.json", losses(rng))
    torch.set_default_dtype(torch.float32)
