/** End-to-end training on both backends: XOR-like classification, linear regression, flat memory, save/load. */
import { expect, test } from 'vitest';
import { Rng } from '../../src/util/rng.js';
import * as T from '../../src/tensor/index.js';
import { Linear } from '../../src/nn/index.js';
import { forEachBackend, testSeed } from '../util/backends.js';
import { Mlp, xorData } from './mlp.js';

forEachBackend('nn training', (b) => {
  test('a two-layer MLP learns XOR-like data to cross-entropy < 0.05 and 100% accuracy', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const { x, labels } = xorData(rng, 128);
    const X = T.tensor(engine, x, [128, 2]);
    const model = new Mlp(engine, 2, 16, 2, seed);
    const opt = new T.Adam(model.parameters(), { lr: 0.05 });
    let loss: T.Tensor | null = null;
    for (let step = 0; step < 300; step++) {
      loss?.dispose();
      loss = engine.scope(() => {
        opt.zeroGrad();
        const l = T.crossEntropy(model.forward(X), labels);
        l.backward();
        opt.step();
        return l;
      });
    }
    const final = await loss!.item();
    expect(final, `seed ${seed}`).toBeLessThan(0.05);
    const logits = (await T.noGrad(() => model.forward(X)).read()) as Float32Array;
    for (let i = 0; i < 128; i++) expect(logits[2 * i + labels[i]] > logits[2 * i + 1 - labels[i]], `point ${i} (seed ${seed})`).toBe(true);
    opt.dispose();
    model.dispose();
  });

  test('linear regression with SGD+momentum recovers the weights (MSE < 2e-4)', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const n = 256;
    const d = 8;
    const wTrue = Float32Array.from({ length: d }, () => rng.uniform(-2, 2));
    const bTrue = 0.5;
    const x = Float32Array.from({ length: n * d }, () => rng.uniform(-1, 1));
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = bTrue + rng.uniform(-0.01, 0.01);
      for (let j = 0; j < d; j++) s += x[i * d + j] * wTrue[j];
      y[i] = s;
    }
    const X = T.tensor(engine, x, [n, d]);
    const Y = T.tensor(engine, y, [n, 1]);
    const lin = new Linear(engine, d, 1, { rng });
    const opt = new T.SGD(lin.parameters(), { lr: 0.1, momentum: 0.9 });
    for (let step = 0; step < 300; step++) {
      engine.scope(() => {
        opt.zeroGrad();
        T.mseLoss(lin.forward(X), Y).backward();
        opt.step();
      });
    }
    const mse = await engine.scope(() => T.mseLoss(lin.forward(X), Y)).item();
    expect(mse, `seed ${seed}`).toBeLessThan(2e-4);
    const w = await lin.weight.read();
    for (let j = 0; j < d; j++) expect(Math.abs(w[j] - wTrue[j]), `w[${j}] (seed ${seed})`).toBeLessThan(0.02);
    expect(Math.abs((await lin.bias!.read())[0] - bTrue)).toBeLessThan(0.02);
    opt.dispose();
    lin.dispose();
  });

  test('1,000 training steps inside engine.scope leave live memory flat', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const { x, labels } = xorData(new Rng(seed), 64);
    const X = T.tensor(engine, x, [64, 2]);
    const model = new Mlp(engine, 2, 32, 2, seed);
    const opt = new T.AdamW(model.parameters(), { lr: 0.01, clipNorm: 1 });
    const step = () =>
      engine.scope(() => {
        opt.zeroGrad();
        const h = T.dropout(model.hidden.forward(X).relu(), 0.1, { seed: 3 });
        T.crossEntropy(model.out.forward(h), labels).backward();
        opt.step();
      });
    for (let i = 0; i < 10; i++) step();
    await engine.sync();
    const warm = engine.memoryStats().liveBytes;
    for (let i = 0; i < 1000; i++) {
      step();
      if (i % 100 === 99) {
        await engine.sync();
        expect(engine.memoryStats().liveBytes, `after ${i + 11} steps`).toBe(warm);
      }
    }
    if (b.kind === 'webgpu') expect(engine.memoryStats().pool!.created).toBeLessThan(200); // buffers are reused, not created per step
    opt.dispose();
    model.dispose();
    X.dispose();
  });

  test('state() and load() restore a model bit for bit; mismatches are refused', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const { x, labels } = xorData(new Rng(seed), 32);
    const X = T.tensor(engine, x, [32, 2]);
    const a = new Mlp(engine, 2, 8, 2, seed);
    const opt = new T.Adam(a.parameters(), { lr: 0.05 });
    for (let i = 0; i < 5; i++)
      engine.scope(() => {
        opt.zeroGrad();
        T.crossEntropy(a.forward(X), labels).backward();
        opt.step();
      });
    const saved = await a.state();
    expect(Object.keys(saved).sort()).toEqual(['hidden.bias', 'hidden.weight', 'out.bias', 'out.weight']);
    const c = new Mlp(engine, 2, 8, 2, seed + 1);
    c.load(saved);
    const restored = await c.state();
    for (const k of Object.keys(saved)) expect(Buffer.from(restored[k].buffer).equals(Buffer.from(saved[k].buffer)), k).toBe(true);
    const [ya, yc] = await T.readAll(T.noGrad(() => [a.forward(X), c.forward(X)]));
    expect(Array.from(yc)).toEqual(Array.from(ya));
    expect(() => c.load({ ...saved, extra: new Float32Array(1) })).toThrowError(/load: state has entries this model lacks: extra/);
    const { ['out.bias']: _drop, ...partial } = saved;
    expect(() => c.load(partial)).toThrowError(/load: state lacks 'out.bias' \(2\)/);
    expect(() => c.load({ ...saved, 'out.bias': new Float32Array(3) })).toThrowError(/'out.bias' is 2 \(2 values\) but the state holds 3/);
    opt.dispose();
    a.dispose();
    c.dispose();
  });

  test('an embedding table trains through gather with BPR loss', async (ctx) => {
    const engine = b.engine(ctx);
    const seed = testSeed();
    const rng = new Rng(seed);
    const { Embedding } = await import('../../src/nn/index.js');
    const users = new Embedding(engine, 20, 8, { rng });
    const items = new Embedding(engine, 30, 8, { rng });
    // Each user prefers item (2u mod 30) over item (2u+1 mod 30).
    const u = Int32Array.from({ length: 20 }, (_, i) => i);
    const pos = Int32Array.from(u, (i) => (2 * i) % 30);
    const neg = Int32Array.from(u, (i) => (2 * i + 1) % 30);
    const opt = new T.Adam([...users.parameters(), ...items.parameters()], { lr: 0.05 });
    const loss = () => {
      const eu = users.forward(u);
      const score = (it: Int32Array) => T.sum(T.mul(eu, items.forward(it)), 1).reshape([20]);
      return T.bprLoss(score(pos), score(neg));
    };
    const first = await engine.scope(() => loss()).item();
    for (let i = 0; i < 100; i++)
      engine.scope(() => {
        opt.zeroGrad();
        loss().backward();
        opt.step();
      });
    const last = await engine.scope(() => loss()).item();
    expect(first).toBeGreaterThan(0.6);
    expect(last, `seed ${seed}`).toBeLessThan(0.05);
    opt.dispose();
    users.dispose();
    items.dispose();
  });
});
