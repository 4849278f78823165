"""The official Python clients against `aimastery serve`.

    peer_serving_clients.py AIMASTERY_BINARY DIR [MINILM_DIR]

DIR holds what the C++ test "writes a registry for the client peers" wrote: registry/ (a random forest,
versions 1 = champion and 2 = challenger, and a float32 MLP) and expected.json (16 input rows and
aimastery's own predictions for them, by the champion). This script
starts `aimastery serve --registry COPY --port 0` on a private copy of DIR/registry (as the other peers do, so
that nothing else touches the files it serves), reads the URL it prints, and runs, unmodified:

  tritonclient.http   is_server_live, is_server_ready, get_server_metadata, get_model_metadata,
                      is_model_ready, infer (JSON tensors, and the binary tensor extension the client
                      uses by default), an unknown model (an InferenceServerException naming it)
  openai              embeddings.create against /v1/embeddings, when MINILM_DIR holds the model: the
                      embeddings equal sentence-transformers' on the same folder (cosine > 0.9999)
  tritonclient.http.aio
                      64 clients, each on a kept-alive connection of its own, infer in 5 rounds and wait
                      for one another between rounds, so that all 64 connections stay open while the
                      server's 8 threads answer them: every answer right, within 20 s

then sends SIGTERM and checks that the server drains and exits 0. With the model, a second server with one
worker thread is kept busy by 4 clients posting embeddings requests (about 0.3 s of encoding each) back to
back, and probed as the kubelet probes, on a new connection each time: /v2/health/live, /v2/health/ready and /metrics answer
within 1 s, while GET /v2 (not a probe) waits its turn behind the encodes; a burst of requests beyond
--max-in-flight waiting ones gets 503 at once. A third server, one worker and --max-queue-wait-ms 250, gets
3 encodes of about 0.6 s each at once: the first is answered, a request that waited longer than 250 ms
gets 503 naming the bound without being encoded, and /metrics counts each such refusal; then 3 openai
clients at once, which retry a 503 after its Retry-After, all get their embeddings. Exit 0: all agree; 1: a mismatch;
77: tritonclient or openai is not installed (ctest reports the test skipped).
"""
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time

try:
    import numpy as np
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

from serving_peers import check, copy_registry, request, start_server, stop


def triton_checks(address, expected):
    client = triton.InferenceServerClient(url=address)
    check(client.is_server_live(), "server live")
    check(client.is_server_ready(), "server ready")
    check(client.get_server_metadata()["name"] == "aimastery", "server metadata")
    meta = client.get_model_metadata("forest")
    check(meta["inputs"][0]["shape"] == [-1, 4] and meta["versions"] == ["1", "2"], "forest metadata")
    check(client.is_model_ready("forest"), "forest ready")

    X = np.asarray(expected["X"], dtype=np.float64)
    for binary in (False, True):
        inp = triton.InferInput("input", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=binary)
        result = client.infer("forest", [inp])
        check(np.array_equal(result.as_numpy("predict"), np.asarray(expected["forest_predict"])),
              f"forest labels equal aimastery's (binary input: {binary})")
        check(np.array_equal(result.as_numpy("predict_proba"), np.asarray(expected["forest_proba"])),
              f"forest probabilities equal aimastery's (binary input: {binary})")

    X32 = X.astype(np.float32)
    inp = triton.InferInput("input", list(X32.shape), "FP32")
    inp.set_data_from_numpy(X32)
    outputs = [triton.InferRequestedOutput("output", binary_data=False)]
    result = client.infer("mlp", [inp], outputs=outputs)
    # expected.json comes from a test program, the server from the command-line tool; the release preset builds
    # the tool with -march=native and the tests without, and a fused multiply-add rounds once where a multiply
    # and an add round twice: the outputs may then differ in their last bits. Same build flags: equal.
    got = result.as_numpy("output")
    want = np.asarray(expected["mlp_output"], dtype=np.float32)
    scale = max(1.0, float(np.abs(want).max()))
    worst = float(np.abs(got.astype(np.float64) - want).max()) if got.shape == want.shape else float("inf")
    check(worst <= 1e-5 * scale,
          f"float32 MLP outputs equal aimastery's to 1e-5 of the largest output (largest difference {worst:.3g})")

    try:
        client.infer("no-such-model", [inp])
        check(False, "an unknown model is refused")
    except InferenceServerException as e:
        check("unknown model 'no-such-model'" in str(e), f"an unknown model is refused: {e}")
    inp = triton.InferInput("input", [2, 3], "FP64")
    inp.set_data_from_numpy(np.zeros((2, 3)), binary_data=False)
    try:
        client.infer("forest", [inp])
        check(False, "a wrong shape is refused")
    except InferenceServerException as e:
        check("shape [2, 3]" in str(e), f"a wrong shape is refused: {e}")
    check(client.is_server_live(), "still live after the refusals")


def many_connections_check(address, expected, connections=64, rounds=5):
    """More kept-alive connections than server threads, all open at once (the server parks the idle ones)."""
    import tritonclient.http.aio as triton_aio

    X = np.asarray(expected["X"], dtype=np.float64)
    want = np.asarray(expected["forest_predict"])

    async def all_clients():
        barrier = asyncio.Barrier(connections)

        async def one_client():
            client = triton_aio.InferenceServerClient(url=address, conn_limit=1)
            right = 0
            try:
                for _ in range(rounds):
                    inp = triton_aio.InferInput("input", list(X.shape), "FP64")
                    inp.set_data_from_numpy(X, binary_data=False)
                    result = await client.infer("forest", [inp])
                    right += int(np.array_equal(result.as_numpy("predict"), want))
                    await barrier.wait()
            finally:
                await client.close()
            return right

        return await asyncio.wait_for(asyncio.gather(*(one_client() for _ in range(connections))), timeout=60)

    start = time.monotonic()
    right = sum(asyncio.run(all_clients()))
    seconds = time.monotonic() - start
    check(right == connections * rounds and seconds < 20,
          f"{connections} async clients on connections of their own, {rounds} rounds each, 8 server threads: "
          f"{right} of {connections * rounds} answers right in {seconds:.2f} s")


def openai_checks(address, minilm):
    try:
        from openai import OpenAI
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        print(f"openai check skipped: {e}")
        return
    client = OpenAI(base_url=f"http://{address}/v1", api_key="unused")
    texts = ["A man is eating food.", "Someone is eating a meal.", "The stock market fell today."]
    response = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    ours = np.asarray([d.embedding for d in response.data], dtype=np.float64)
    reference = SentenceTransformer(minilm, device="cpu").encode(texts, normalize_embeddings=False)
    cosine = np.sum(ours * reference, axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    check(ours.shape == (3, 384) and np.all(cosine > 0.9999), f"openai embeddings equal sentence-transformers' "
          f"(cosine >= {cosine.min():.6f})")
    check(response.usage.prompt_tokens > 0, "usage counts tokens")


def embeddings_taking(address, seconds):
    """An embeddings request that takes about `seconds` to encode on this server, whatever the build (a
    sanitizer build at -O0 encodes ~100x slower than a release one): its number of short texts comes from
    timed requests."""
    text = "the quick brown fox jumps over the lazy dog"

    def texts_for(texts):
        start = time.monotonic()
        status, _ = request(address, "/v1/embeddings", {"model": "all-MiniLM-L6-v2", "input": [text] * texts},
                            timeout=120)
        check(status == 200, f"{texts} texts encoded in {time.monotonic() - start:.3f} s")
        return max(1, min(256, round(texts * seconds / (time.monotonic() - start))))

    texts = texts_for(1)
    if texts > 1:
        texts = texts_for(texts)
    return {"model": "all-MiniLM-L6-v2", "input": [text] * texts}


def probes_under_load_check(binary, folder, minilm):
    """The probes of a server whose only worker is busy encoding, with more encodes queued."""
    with tempfile.TemporaryDirectory() as scratch:
        process, address = start_server(binary, copy_registry(folder, scratch),
                                        ["--model-dir", minilm, "--threads", "1", "--max-in-flight", "4"])
        body = embeddings_taking(address, 0.3)
        done = threading.Event()
        encodes = []

        def keep_encoding():
            while not done.is_set():
                status, _ = request(address, "/v1/embeddings", body, timeout=120)
                encodes.append(status)

        loaders = [threading.Thread(target=keep_encoding) for _ in range(4)]
        try:
            for t in loaders:
                t.start()
            time.sleep(0.5)  # the worker encodes, the other clients wait for it
            probes = []
            for path in ["/v2/health/live", "/v2/health/ready", "/metrics"] * 2:
                start = time.monotonic()
                status, _ = request(address, path, timeout=30)
                probes.append((path, status, time.monotonic() - start))
            start = time.monotonic()
            metadata_status, _ = request(address, "/v2", timeout=120)
            metadata_wait = time.monotonic() - start
            # A burst beyond --max-in-flight requests waiting: the excess is refused at once.
            burst = []
            senders = [threading.Thread(target=lambda: burst.append(request(address, "/v2", timeout=120)))
                       for _ in range(6)]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
        finally:
            done.set()
            for t in loaders:
                t.join()
            code = stop(process, timeout=60)
        slowest = max(seconds for _, _, seconds in probes)
        check(all(status == 200 for _, status, _ in probes) and slowest < 1.0,
              f"probes while the only worker encodes: {len(probes)} answered 200, the slowest in {slowest:.3f} s")
        check(metadata_status == 200 and metadata_wait > 3 * slowest,
              f"GET /v2 (not a probe) waited {metadata_wait:.2f} s behind the encodes")
        busy = [text for status, text in burst if status == 503]
        check(len(busy) >= 1 and all(status in (200, 503) for status, _ in burst) and
              all("already wait for a worker" in text for text in busy),
              f"a burst of 6 while 3-4 requests wait (--max-in-flight 4): {len(busy)} refused 503 at once, "
              f"the others answered")
        # A loader's next request may find the queue full too (its last connection is still being closed).
        print(f"load: {len(body['input'])} texts per request")
        check(encodes.count(200) >= 2 and all(status in (200, 503) for status in encodes) and code == 0,
              f"{encodes.count(200)} embeddings requests answered 200 meanwhile ({encodes.count(503)} refused 503); "
              f"the server exited {code}")


def queue_wait_check(binary, folder, minilm):
    """Requests that waited for the only worker longer than --max-queue-wait-ms get 503, not the encoder."""
    with tempfile.TemporaryDirectory() as scratch:
        process, address = start_server(binary, copy_registry(folder, scratch),
                                        ["--model-dir", minilm, "--threads", "1", "--max-queue-wait-ms", "250"])
        try:
            body = embeddings_taking(address, 0.6)
            answers = []
            clients = [threading.Thread(target=lambda: answers.append(request(address, "/v1/embeddings", body,
                                                                               timeout=120)))
                       for _ in range(3)]
            start = time.monotonic()
            for t in clients:
                t.start()
            for t in clients:
                t.join()
            elapsed = time.monotonic() - start
            _, metrics = request(address, "/metrics", timeout=30)
            retried = openai_retries_after_refusals(address, body["input"])
        finally:
            code = stop(process, timeout=60)
        refused = [text for status, text in answers if status == 503]
        check(sum(status == 200 for status, _ in answers) >= 1 and len(refused) >= 1 and
              all(status in (200, 503) for status, _ in answers) and
              all("ms for a worker, longer than max_queue_wait (250 ms); retry later" in text for text in refused),
              f"3 encodes of about 0.6 s at once on one worker (--max-queue-wait-ms 250): "
              f"{len(answers) - len(refused)} answered, {len(refused)} refused 503 after waiting, in {elapsed:.2f} s")
        counted = [line for line in metrics.splitlines()
                   if line.startswith('aimastery_http_refused_total{limit="max_queue_wait"}')]
        check(counted == [f'aimastery_http_refused_total{{limit="max_queue_wait"}} {len(refused)}'] and code == 0,
              f"/metrics counts them: {counted}; the server exited {code}")
        if retried:
            answered, refusals, slowest = retried
            check(answered == 3 and refusals >= 1 and slowest >= 1.0,
                  f"3 openai clients at once, retrying as Retry-After says: all {answered} answered, after "
                  f"{refusals} refusals, the slowest in {slowest:.2f} s (each retry waited the 1 s asked)")


def openai_retries_after_refusals(address, texts):
    """(answered, refusals meanwhile, slowest seconds) of 3 concurrent openai embeddings.create calls whose
    client retries a 503 after its Retry-After; None without the openai package."""
    try:
        from openai import OpenAI
    except ImportError as e:
        print(f"openai retry check skipped: {e}")
        return None

    def refusals():
        _, text = request(address, "/metrics", timeout=30)
        line = [x for x in text.splitlines() if x.startswith('aimastery_http_refused_total{limit="max_queue_wait"}')]
        return int(float(line[0].split()[-1]))

    client = OpenAI(base_url=f"http://{address}/v1", api_key="unused", max_retries=8, timeout=120)
    before = refusals()
    results = []

    def one():
        start = time.monotonic()
        response = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
        results.append((len(response.data) == len(texts), time.monotonic() - start))

    callers = [threading.Thread(target=one) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    return sum(ok for ok, _ in results), refusals() - before, max(seconds for _, seconds in results)


def main():
    binary, folder = sys.argv[1], sys.argv[2]
    minilm = sys.argv[3] if len(sys.argv) > 3 else ""
    has_minilm = bool(minilm) and os.path.isfile(os.path.join(minilm, "model.safetensors"))
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    extra = ["--model-dir", minilm] if has_minilm else []
    with tempfile.TemporaryDirectory() as scratch:
        process, address = start_server(binary, copy_registry(folder, scratch), extra)
        try:
            triton_checks(address, expected)
            many_connections_check(address, expected)
            if has_minilm:
                openai_checks(address, minilm)
            else:
                print("openai check skipped: no MiniLM model in", repr(minilm))
        except Exception:
            process.kill()
            raise
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        check(code == 0, f"SIGTERM: drained and exited with {code}")
    if has_minilm:
        probes_under_load_check(binary, folder, minilm)
        queue_wait_check(binary, folder, minilm)


if __name__ == "__main__":
    main()
