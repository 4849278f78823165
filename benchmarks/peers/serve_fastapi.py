"""The seed's way of serving a model: FastAPI + uvicorn around scikit-learn, on the same protocol.

    serve_fastapi.py PORT [--workers N] [--mlp MODEL.safetensors]

Serves POST /v2/models/forest/infer (the Open Inference Protocol JSON body that `aimastery serve`
takes) with a scikit-learn RandomForestClassifier of the same size as the forest that the C++ test
"writes a registry for the client peers" registers (20 trees, depth 8, 200 rows, 4 features from the
same formula), answering {"outputs": [predict, predict_proba]} as aimastery does. GET /v2/health/ready
answers 200. With --mlp, POST /v2/models/mlp/infer runs a PyTorch nn.Sequential (Linear 4→8, Tanh,
Linear 8→2) holding the weights of aimastery's float32 MLP file (PyTorch state_dict names), answering
"output". Used by serve_wrk.sh; the comparison is throughput and latency on the same request bodies.
"""
import math
import sys

import numpy as np
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from sklearn.ensemble import RandomForestClassifier


def make_data(n):
    X = np.array([[math.sin(0.37 * (i * (j + 1)) + j) for j in range(4)] for i in range(n)])
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)
    return X, y


MLP_FILE = sys.argv[sys.argv.index("--mlp") + 1] if "--mlp" in sys.argv else None
X, y = make_data(200)
forest = RandomForestClassifier(n_estimators=20, max_depth=8, random_state=11, n_jobs=1).fit(X, y)
app = FastAPI()


@app.get("/v2/health/ready")
def ready():
    return {}


@app.post("/v2/models/forest/infer")
async def infer(request: Request):
    try:
        body = await request.json()
        tensor = body["inputs"][0]
        rows = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
    except Exception as e:  # the same refusals as the C++ server, without its detail
        raise HTTPException(status_code=400, detail=str(e))
    proba = forest.predict_proba(rows)
    labels = forest.classes_[proba.argmax(axis=1)]
    n = rows.shape[0]
    return {"model_name": "forest", "model_version": "1", "id": body.get("id", ""),
            "outputs": [{"name": "predict", "shape": [n], "datatype": "INT64", "data": labels.tolist()},
                        {"name": "predict_proba", "shape": [n, proba.shape[1]], "datatype": "FP64",
                         "data": proba.ravel().tolist()}]}


if MLP_FILE:
    import torch
    from safetensors.torch import load_file

    torch.set_num_threads(1)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    mlp.load_state_dict(load_file(MLP_FILE))
    mlp.eval()

    @app.post("/v2/models/mlp/infer")
    async def infer_mlp(request: Request):
        try:
            body = await request.json()
            tensor = body["inputs"][0]
            rows = torch.tensor(tensor["data"], dtype=torch.float32).reshape(tensor["shape"])
        except Exception as e:
            raise HTTPException(status_code=400, detail=str(e))
        with torch.inference_mode():
            out = mlp(rows).numpy()
        return {"model_name": "mlp", "model_version": "1", "id": body.get("id", ""),
                "outputs": [{"name": "output", "shape": list(out.shape), "datatype": "FP32",
                             "data": out.ravel().tolist()}]}


if __name__ == "__main__":
    port = int(sys.argv[1])
    workers = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 1
    uvicorn.run("serve_fastapi:app" if workers > 1 else app, host="127.0.0.1", port=port, workers=workers,
                log_level="warning", access_log=False)
