/**
 * The catalogue-wide softmax policy of the policy-gradient agents:
 *
 *     π(a | s) = exp(z_a) / Σ_{a' ∉ window(s)} exp(z_a'),    z_a = φ(s) · e_a + b_a,
 *
 * the same factor form as DQN's Q(s, a), so greedy acting is the `topK` kernel and the
 * whole catalogue is one action space. Items in the slot's history window get the logit
 * MASKED (not −∞: a finite value keeps p·log p and the backward free of NaN, and exp of it
 * is exactly 0 in float32), so π and its log-normaliser are over the eligible items only.
 *
 * Memory: logits exist only for a chunk of state rows at a time (`rowsPerChunk` rows ×
 * nItems, at most `chunkElements` values), never for the whole batch × catalogue: the
 * log-normaliser, the sampled slates and the training loss are all computed chunk by chunk
 * (the loss is a sum over rows, so each chunk is differentiated on its own and the
 * gradients accumulate into the parameters).
 *
 * Slates are sampled without replacement by the Gumbel-top-K trick: the K largest of
 * z_a + Gumbel noise are distributed exactly as K successive draws from π with the earlier
 * draws removed (Plackett–Luce), and need one pass over the row.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import { rowLogSumExp } from '../../kernels/softmax.js';
import { noGrad } from '../../tensor/autograd.js';
import { add, exp, mul } from '../../tensor/ops/elementwise.js';
import { gather } from '../../tensor/ops/gather.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { sum } from '../../tensor/ops/reduce.js';
import { logSoftmax } from '../../tensor/ops/softmax.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../util/rng.js';
import type { ExclusionRows } from '../state/exclusions.js';

/** The logit of an excluded item: exp(MASKED − max) underflows to exactly 0. */
export const MASKED = -1e9;

/** Default bound on one chunk's logits (4 Mi values, 16 MiB of float32). */
export const DEFAULT_CHUNK_ELEMENTS = 1 << 22;

/** Rows of a chunk for `nItems` items: as many as fit `chunkElements`, at least one. */
export function rowsPerChunk(nItems: number, chunkElements = DEFAULT_CHUNK_ELEMENTS): number {
  if (!(Number.isInteger(chunkElements) && chunkElements >= 1)) throw new GnnrlError('input', `softmax policy: chunkElements: expected an integer >= 1, got ${chunkElements}`, { arg: 'chunkElements' });
  return Math.max(1, Math.floor(chunkElements / nItems));
}

/**
 * The additive mask of rows [r0, r1) of `rows` over `nItems` items: MASKED at each row's
 * excluded items, 0 elsewhere; null when no row of the chunk excludes anything.
 */
export function maskChunk(engine: Engine, rows: ExclusionRows, r0: number, r1: number, nItems: number): Tensor | null {
  if (rows.rowPtr[r1] === rows.rowPtr[r0]) return null;
  const m = new Float32Array((r1 - r0) * nItems);
  for (let r = r0; r < r1; r++) {
    for (let e = rows.rowPtr[r]; e < rows.rowPtr[r + 1]; e++) m[(r - r0) * nItems + rows.colIdx[e]] = MASKED;
  }
  return Tensor.fromArray(engine, m, [r1 - r0, nItems]);
}

/** Logits z = φ·Eᵀ + bᵀ (+ mask) of a chunk: phi [R, d], items [I, d], bias [I, 1] → [R, I]. Recorded. */
export function policyLogits(phi: Tensor, items: Tensor, bias: Tensor, mask: Tensor | null): Tensor {
  const [I, d] = items.shape;
  if (phi.shape.length !== 2 || phi.shape[1] !== d) throw new GnnrlError('input', `softmax policy: phi is [${phi.shape.join(', ')}], expected [rows, ${d}]`, { arg: 'phi' });
  if (bias.size !== I) throw new GnnrlError('input', `softmax policy: bias has ${bias.size} values, expected ${I}`, { arg: 'bias' });
  const z = add(matmul(phi, items, { transB: true }), bias.reshape([1, I]));
  return mask ? add(z, mask) : z;
}

/**
 * log π(a_r | s_r) of one action per row and the row entropies H(π(·|s_r)) = −Σ p log p,
 * both [R, 1] and recorded, from a chunk's logits [R, I].
 */
export function policyTerms(logits: Tensor, actions: Int32Array): { logp: Tensor; entropy: Tensor; logpAll: Tensor } {
  const [R, I] = logits.shape;
  if (actions.length !== R) throw new GnnrlError('input', `softmax policy: ${actions.length} actions for ${R} rows`, { arg: 'actions' });
  const flat = new Int32Array(R);
  for (let r = 0; r < R; r++) {
    const a = actions[r];
    if (!(Number.isInteger(a) && a >= 0 && a < I)) throw new GnnrlError('input', `softmax policy: actions[${r}] = ${a} is outside [0, ${I})`, { arg: 'actions', index: r });
    flat[r] = r * I + a;
  }
  const logpAll = logSoftmax(logits);
  // Picking one column per row is a gather from the [R·I, 1] view (its backward a scatter).
  const logp = gather(logpAll.reshape([R * I, 1]), flat);
  // Masked columns have p = 0 exactly, so they add 0 · MASKED = 0 here and in the backward.
  const entropy = mul(sum(mul(exp(logpAll), logpAll), 1), -1);
  return { logp, entropy, logpAll };
}

/** What a chunk visitor receives: rows [r0, r1) and their masked logits on the host (row-major, (r1 − r0) × nItems). */
export type ChunkVisitor = (r0: number, r1: number, logits: Float32Array) => void;

/**
 * Visits the masked logits of B states in row chunks, computed on the engine without
 * recording (acting, π of given actions, the log-normaliser). `phiOf(r0, r1)` makes the
 * chunk's φ [r1 − r0, d] (inside the chunk's scope, so intermediates are freed per chunk).
 */
export async function visitLogits(
  engine: Engine,
  args: { batch: number; nItems: number; items: Tensor; bias: Tensor; exclude: ExclusionRows; rowsPerChunk: number; phiOf: (r0: number, r1: number) => Tensor },
  visit: ChunkVisitor,
): Promise<void> {
  const { batch: B, nItems: I } = args;
  for (let r0 = 0; r0 < B; r0 += args.rowsPerChunk) {
    const r1 = Math.min(B, r0 + args.rowsPerChunk);
    const z = await engine.scopeAsync(async () => {
      const t = noGrad(() => policyLogits(args.phiOf(r0, r1), args.items, args.bias, maskChunk(engine, args.exclude, r0, r1, I)));
      return (await t.read()) as Float32Array;
    });
    visit(r0, r1, z);
  }
}

/** log Σ_a exp(z_a) of every row of a host chunk (row-major, `cols` wide), into out[off..]. */
export function chunkLogNormaliser(z: Float32Array, rows: number, cols: number, out: Float64Array, off: number): void {
  for (let r = 0; r < rows; r++) out[off + r] = rowLogSumExp(z, r * cols, cols);
}

/**
 * The log-normaliser log Σ_{a eligible} exp(φ(s)·e_a + b_a) of B states, computed in row
 * chunks of `rowsPerChunk` (the only users × items matrix alive is one chunk's).
 */
export async function logNormaliser(
  engine: Engine,
  args: { phi: Tensor; items: Tensor; bias: Tensor; exclude: ExclusionRows; rowsPerChunk: number },
): Promise<Float64Array> {
  const B = args.phi.shape[0];
  const I = args.items.shape[0];
  if (args.exclude.rowPtr.length !== B + 1) throw new GnnrlError('input', `softmax policy: exclude has ${args.exclude.rowPtr.length - 1} rows, phi ${B}`, { arg: 'exclude' });
  const out = new Float64Array(B);
  const rowIdx = (r0: number, r1: number) => Int32Array.from({ length: r1 - r0 }, (_, j) => r0 + j);
  await visitLogits(engine, { batch: B, nItems: I, items: args.items, bias: args.bias, exclude: args.exclude, rowsPerChunk: args.rowsPerChunk, phiOf: (r0, r1) => gather(args.phi, rowIdx(r0, r1)) }, (r0, r1, z) =>
    chunkLogNormaliser(z, r1 - r0, I, out, r0),
  );
  return out;
}

/**
 * Samples `k` distinct items from π for row r of a host chunk (logits row-major, `cols`
 * wide, masked items at MASKED) by Gumbel-top-k, into out[o .. o + k). Returns false when
 * the row has fewer than k eligible items.
 */
export function sampleWithoutReplacement(z: Float32Array, r: number, cols: number, k: number, rng: Rng, out: Int32Array, o: number, keys: Float64Array): boolean {
  const base = r * cols;
  let eligible = 0;
  for (let a = 0; a < cols; a++) {
    const v = z[base + a];
    if (v <= MASKED / 2) {
      keys[a] = -Infinity;
      continue;
    }
    eligible++;
    let u = rng.next();
    while (u === 0) u = rng.next();
    keys[a] = v - Math.log(-Math.log(u));
  }
  if (eligible < k) return false;
  // K passes of a max: slates are short, and a pass is a plain loop over one row.
  for (let j = 0; j < k; j++) {
    let best = -1;
    let bestKey = -Infinity;
    for (let a = 0; a < cols; a++) {
      if (keys[a] > bestKey) {
        bestKey = keys[a];
        best = a;
      }
    }
    out[o + j] = best;
    keys[best] = -Infinity;
  }
  return true;
}

/** π(a | s) of one action in row r of a host chunk, given that row's log-normaliser. */
export function probabilityOf(z: Float32Array, r: number, cols: number, a: number, lse: number): number {
  return Math.exp(z[r * cols + a] - lse);
}
