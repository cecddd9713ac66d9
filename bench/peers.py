#!/usr/bin/env python3
"""Benchmark peers for `npm run bench -- --peers`: numpy, scipy and torch (CPU) run the
same operation on the same data the suite generated (raw little-endian arrays written by
bench/peers.ts), timed the same way (warm-up outside the timing, median of the samples).

Usage: peers.py SPEC.json  ->  one JSON line per peer measured, on stdout:
  {"impl": "scipy", "median_ms": ..., "min_ms": ..., "max_ms": ..., "samples": n, "version": "..."}
A peer that is not installed is skipped with a line on stderr; never a failure.
"""
import json
import os
import sys
import time


def load(spec, name):
    import numpy as np
    a = spec["arrays"][name]
    return np.fromfile(os.path.join(spec["dir"], a["file"]), dtype=a["dtype"]).reshape(a["shape"])


def timed(fn, min_samples, max_seconds):
    fn()  # warm-up: first-call allocation and thread start stay out of the numbers
    fn()
    samples = []
    start = time.perf_counter()
    while len(samples) < min_samples or (time.perf_counter() - start < max_seconds and len(samples) < 50):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - start > 4 * max_seconds:
            break
    s = sorted(samples)
    m = len(s) // 2
    med = s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2
    return {"median_ms": round(med, 3), "min_ms": round(s[0], 3), "max_ms": round(s[-1], 3), "samples": len(s)}


def numpy_ops(spec):
    import numpy as np
    op, p = spec["op"], spec["params"]
    if op == "matmul":
        a, b = load(spec, "a"), load(spec, "b")
        if p.get("transA"):
            return {"numpy": lambda: a.T @ b}
        return {"numpy": lambda: a @ b}
    if op == "qtarget":
        nxt, on, tg, r = load(spec, "next"), load(spec, "online"), load(spec, "target"), load(spec, "reward")
        gamma, chunk = p["gamma"], p.get("chunk", 512)

        def q():
            # Double DQN as gnnrl's kernel: argmax from the online table, value from the target table.
            out = np.empty(nxt.shape[0], dtype=np.float32)
            for r0 in range(0, nxt.shape[0], chunk):
                s = nxt[r0:r0 + chunk]
                a = np.argmax(s @ on.T, axis=1)
                out[r0:r0 + chunk] = r[r0:r0 + chunk] + gamma * np.einsum("ij,ij->i", s, tg[a])
            return out
        return {"numpy": q}
    if op == "topk":
        qs, items, k = load(spec, "queries"), load(spec, "items"), p["k"]
        chunk = p.get("chunk", 256)

        def t():
            out = np.empty((qs.shape[0], k), dtype=np.int64)
            for r0 in range(0, qs.shape[0], chunk):
                sc = qs[r0:r0 + chunk] @ items.T
                part = np.argpartition(-sc, k - 1, axis=1)[:, :k]
                order = np.argsort(-np.take_along_axis(sc, part, axis=1), axis=1, kind="stable")
                out[r0:r0 + chunk] = np.take_along_axis(part, order, axis=1)
            return out
        return {"numpy": t}
    return {}


def scipy_ops(spec):
    op = spec["op"]
    if op != "spmm":
        return {}
    import scipy.sparse as sp
    rp, ci, v, x = load(spec, "rowPtr"), load(spec, "colIdx"), load(spec, "values"), load(spec, "x")
    n = spec["params"]["nRows"]
    a = sp.csr_matrix((v, ci, rp), shape=(n, spec["params"]["nCols"]))
    return {"scipy": lambda: a @ x}


def torch_ops(spec):
    import torch
    op, p = spec["op"], spec["params"]
    T = lambda name: torch.from_numpy(load(spec, name).copy())
    if op == "spmm":
        a = torch.sparse_csr_tensor(T("rowPtr").long(), T("colIdx").long(), T("values"), size=(p["nRows"], p["nCols"]))
        x = T("x")
        return {"torch": lambda: torch.sparse.mm(a, x) if hasattr(torch.sparse, "mm") else a @ x}
    if op == "matmul":
        a, b = T("a"), T("b")
        if p.get("transA"):
            return {"torch": lambda: a.T @ b}
        return {"torch": lambda: a @ b}
    if op == "qtarget":
        nxt, on, tg, r = T("next"), T("online"), T("target"), T("reward")
        gamma, chunk = p["gamma"], p.get("chunk", 512)

        def q():
            parts = []
            for r0 in range(0, nxt.shape[0], chunk):
                s = nxt[r0:r0 + chunk]
                a = torch.argmax(s @ on.T, dim=1)
                parts.append(r[r0:r0 + chunk] + gamma * (s * tg[a]).sum(1))
            return torch.cat(parts)
        return {"torch": q}
    if op == "topk":
        qs, items, k = T("queries"), T("items"), p["k"]
        chunk = p.get("chunk", 256)
        return {"torch": lambda: torch.cat([torch.topk(qs[r0:r0 + chunk] @ items.T, k, dim=1).indices for r0 in range(0, qs.shape[0], chunk)])}
    if op == "lightgcn":
        # `steps` LightGCN training steps as gnnrl's suite runs them: K propagations over
        # the symmetric-normalised bipartite adjacency, the layer mean, BPR on a batch with
        # uniform negatives, L2 on the batch's ego rows, Adam.
        n_users, n_items, dim, layers, batch = p["nUsers"], p["nItems"], p["dim"], p["layers"], p["batch"]
        steps, l2 = p["steps"], p.get("l2", 1e-4)
        n = n_users + n_items
        adj = torch.sparse_csr_tensor(T("rowPtr").long(), T("colIdx").long(), T("values"), size=(n, n))
        users, items = T("users").long(), T("items").long()
        gen = torch.Generator().manual_seed(7)
        ego = (torch.randn(n, dim, generator=gen) * 0.1).requires_grad_()
        opt = torch.optim.Adam([ego], lr=p.get("lr", 1e-2))

        def run():
            for _ in range(steps):
                idx = torch.randint(0, users.shape[0], (batch,), generator=gen)
                u, i = users[idx], items[idx] + n_users
                j = torch.randint(0, n_items, (batch,), generator=gen) + n_users
                x, acc = ego, ego
                for _ in range(layers):
                    x = adj @ x
                    acc = acc + x
                z = acc / (layers + 1)
                pos = (z[u] * z[i]).sum(1)
                neg = (z[u] * z[j]).sum(1)
                e0 = torch.cat([ego[u], ego[i], ego[j]])
                loss = torch.nn.functional.softplus(neg - pos).mean() + l2 / 2 * (e0 * e0).sum() / batch
                opt.zero_grad()
                loss.backward()
                opt.step()
        return {"torch": run}
    return {}


def main():
    spec = json.load(open(sys.argv[1]))
    peers = []
    for module, make in (("numpy", numpy_ops), ("scipy", scipy_ops), ("torch", torch_ops)):
        try:
            mod = __import__(module)
        except ImportError:
            print(f"peers: {module} is not installed (apt-get install python3-{module}); skipped", file=sys.stderr)
            continue
        try:
            for impl, fn in make(spec).items():
                peers.append((impl, fn, getattr(mod, "__version__", "?")))
        except Exception as e:  # a peer without this op (an old torch) is skipped, not fatal
            print(f"peers: {module} cannot run {spec['op']}: {e}", file=sys.stderr)
    for impl, fn, version in peers:
        row = timed(fn, spec.get("minSamples", 5), spec.get("maxSeconds", 10))
        row.update({"impl": impl, "version": version})
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
