/**
 * A tiny biased matrix factorisation for the synthetic-world tests (the real baselines
 * live in src/models later): logistic loss on observed events against sampled
 * negatives, trained by plain SGD, scoring b_i + p_u·q_i.
 */
import { Rng } from '../../src/util/rng.js';
import { NegativeSampler, type Interactions } from '../../src/data/index.js';

export interface Mf {
  score(u: number, i: number): number;
}

export function trainLogisticMf(x: Interactions, o: { dim: number; epochs: number; lr: number; reg: number; negatives: number; seed: number }): Mf {
  const rng = new Rng(o.seed);
  const P = new Float32Array(x.nUsers * o.dim).map(() => rng.normal() * 0.1);
  const Q = new Float32Array(x.nItems * o.dim).map(() => rng.normal() * 0.1);
  const b = new Float32Array(x.nItems);
  const sampler = new NegativeSampler(x, { seed: o.seed + 1 });
  const order = Int32Array.from(x.user, (_, i) => i);
  const step = (u: number, i: number, label: number): void => {
    let s = b[i];
    for (let d = 0; d < o.dim; d++) s += P[u * o.dim + d] * Q[i * o.dim + d];
    const g = label - 1 / (1 + Math.exp(-s)); // d log-likelihood / d score
    b[i] += o.lr * (g - o.reg * b[i]);
    for (let d = 0; d < o.dim; d++) {
      const pu = P[u * o.dim + d];
      const qi = Q[i * o.dim + d];
      P[u * o.dim + d] += o.lr * (g * qi - o.reg * pu);
      Q[i * o.dim + d] += o.lr * (g * pu - o.reg * qi);
    }
  };
  for (let e = 0; e < o.epochs; e++) {
    rng.shuffle(order);
    for (const k of order) {
      const u = x.user[k];
      step(u, x.item[k], 1);
      for (let n = 0; n < o.negatives; n++) step(u, sampler.sample(u), 0);
    }
  }
  return {
    score(u, i) {
      let s = b[i];
      for (let d = 0; d < o.dim; d++) s += P[u * o.dim + d] * Q[i * o.dim + d];
      return s;
    },
  };
}

/** Mean recall@k and NDCG@k over users with test events, ranking items unseen in train. */
export function topKMetrics(train: Interactions, test: Interactions, score: (u: number, i: number) => number, k: number): { recall: number; ndcg: number } {
  const seen = new Map<number, Set<number>>();
  train.user.forEach((u, j) => (seen.get(u) ?? seen.set(u, new Set()).get(u)!).add(train.item[j]));
  const truth = new Map<number, Set<number>>();
  test.user.forEach((u, j) => (truth.get(u) ?? truth.set(u, new Set()).get(u)!).add(test.item[j]));
  let recall = 0;
  let ndcg = 0;
  const sc = new Float64Array(train.nItems);
  for (const [u, rel] of truth) {
    const skip = seen.get(u) ?? new Set<number>();
    const cands: number[] = [];
    for (let i = 0; i < train.nItems; i++) {
      if (skip.has(i)) continue;
      sc[i] = score(u, i);
      cands.push(i);
    }
    cands.sort((a, c) => sc[c] - sc[a] || a - c);
    const top = cands.slice(0, k);
    let hits = 0;
    let dcg = 0;
    top.forEach((i, r) => {
      if (rel.has(i)) {
        hits++;
        dcg += 1 / Math.log2(r + 2);
      }
    });
    let idcg = 0;
    for (let r = 0; r < Math.min(k, rel.size); r++) idcg += 1 / Math.log2(r + 2);
    recall += hits / rel.size;
    ndcg += dcg / idcg;
  }
  return { recall: recall / truth.size, ndcg: ndcg / truth.size };
}
