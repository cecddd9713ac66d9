/**
 * The shared part of the linear contextual bandits (LinUCB, linear Thompson sampling):
 * a ridge-regression reward model over interaction features, kept exactly on-line, and the
 * agent shell (features from GNN or imported vectors, exclusions, slates, checkpoints).
 *
 * Design: one shared linear model for the whole catalogue (Li et al. 2010's shared form,
 * not one model per arm), so items never shown are scored through their vectors. For a
 * slot with user vector u, window mean w̄ (the mean vector of the items in its history
 * window, 0 when empty) and item vector e_a, the features are
 *
 *   x(s, a) = [ u ⊙ e_a ,  w̄ ⊙ e_a ,  e_a ,  1 ]            (D = 3d + 1)
 *
 * so θ·x = Σ_k e_ak (θ¹_k u_k + θ²_k w̄_k + θ³_k) + θ⁴: a learned per-factor weighting of
 * user–item affinity (the GNN's dot product, reweighted), of similarity to what was just
 * consumed (the window: fatigue and repeats push θ² negative), and a learned prior over
 * the item space. The tables are the GNN's user and item vectors (or imported ones),
 * scaled to unit root-mean-square like the DQN's state encoder, and stay frozen.
 *
 * The model: A = λI + Σ x xᵀ, b = Σ r x, θ̂ = A⁻¹b. A⁻¹ is kept by the exact
 * Sherman–Morrison update A⁻¹ ← A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x), O(D²) per
 * observation, in float64. Scoring every item stays O(d) per item for the mean and
 * O(d²) for the variance: x = G_s z_a with z_a = [e_a; 1] and G_s fixed per slot, so
 * xᵀA⁻¹x = z_aᵀ (G_sᵀ A⁻¹ G_s) z_a with the (d+1)² matrix formed once per slot.
 *
 * Learning: `observe` queues the shown items with their rewards (a slate's item j earns 1
 * when the user clicked position j, its reward for single items), `update` folds the queue
 * into the model. With `updatesPerStep: 0` the run loop never calls `update`, so nothing is
 * learned (the control arm of the learning test); the queue then keeps only its newest
 * `queueCapacity` rows.
 */
import { GnnrlError, check } from '../../errors.js';
import type { ModelState } from '../../models/types.js';
import { Rng } from '../../util/rng.js';
import type { ActOptions, Agent, Observation, TransitionBatch, UpdateReport } from '../types.js';
import { historyExclusions, isExcluded, type ExclusionRows } from '../state/exclusions.js';
import type { ExcludeRows } from '../../rank/types.js';
import type { StateTables } from '../state/window-state.js';

/** Ridge regression with an exactly maintained inverse: the model of both bandits. */
export class RidgeModel {
  readonly dim: number;
  /** A = λI + Σ x xᵀ (row-major D × D). */
  readonly A: Float64Array;
  /** A⁻¹, by Sherman–Morrison. */
  readonly Ainv: Float64Array;
  /** Σ r x. */
  readonly b: Float64Array;
  /** Observations folded in. */
  count = 0;
  private readonly tmp: Float64Array;

  constructor(
    dim: number,
    readonly lambda: number,
  ) {
    check(Number.isInteger(dim) && dim >= 1, 'dim', `an integer >= 1, got ${dim}`);
    check(lambda > 0 && Number.isFinite(lambda), 'lambda', `a finite number > 0, got ${lambda}`);
    this.dim = dim;
    this.A = new Float64Array(dim * dim);
    this.Ainv = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) {
      this.A[i * dim + i] = lambda;
      this.Ainv[i * dim + i] = 1 / lambda;
    }
    this.b = new Float64Array(dim);
    this.tmp = new Float64Array(dim);
  }

  /** Folds in one observation (x, r): A += x xᵀ, b += r x, A⁻¹ by Sherman–Morrison. */
  update(x: ArrayLike<number>, r: number): void {
    const D = this.dim;
    const M = this.Ainv;
    const v = this.tmp;
    let q = 0;
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += M[i * D + j] * x[j];
      v[i] = s;
      q += x[i] * s;
    }
    const c = 1 / (1 + q);
    for (let i = 0; i < D; i++) {
      const vi = v[i] * c;
      for (let j = 0; j < D; j++) M[i * D + j] -= vi * v[j];
    }
    for (let i = 0; i < D; i++) {
      const xi = x[i];
      this.b[i] += r * xi;
      for (let j = 0; j < D; j++) this.A[i * D + j] += xi * x[j];
    }
    this.count++;
  }

  /** θ̂ = A⁻¹ b. */
  theta(): Float64Array {
    const D = this.dim;
    const t = new Float64Array(D);
    for (let i = 0; i < D; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += this.Ainv[i * D + j] * this.b[j];
      t[i] = s;
    }
    return t;
  }

  /** Replaces A and b (a checkpoint) and recomputes A⁻¹ directly. */
  restore(A: ArrayLike<number>, b: ArrayLike<number>, count: number): void {
    const D = this.dim;
    if (A.length !== D * D || b.length !== D) throw new GnnrlError('input', `ridge model: expected A of ${D}×${D} and b of ${D}, got ${A.length} and ${b.length}`, { arg: 'state' });
    this.A.set(A);
    this.b.set(b);
    this.Ainv.set(invertSpd(this.A, D));
    this.count = count;
  }
}

/**
 * The inverse of a symmetric positive definite matrix by Gauss–Jordan with partial
 * pivoting (float64): the direct reference the Sherman–Morrison updates are checked
 * against, and how a checkpoint's A⁻¹ is rebuilt.
 */
export function invertSpd(A: ArrayLike<number>, D: number): Float64Array {
  const m = Float64Array.from(A);
  const inv = new Float64Array(D * D);
  for (let i = 0; i < D; i++) inv[i * D + i] = 1;
  for (let c = 0; c < D; c++) {
    let p = c;
    for (let r = c + 1; r < D; r++) if (Math.abs(m[r * D + c]) > Math.abs(m[p * D + c])) p = r;
    if (!(Math.abs(m[p * D + c]) > 1e-300)) throw new GnnrlError('input', `invert: the matrix is singular at column ${c}`, { arg: 'A' });
    if (p !== c) {
      for (let j = 0; j < D; j++) {
        [m[c * D + j], m[p * D + j]] = [m[p * D + j], m[c * D + j]];
        [inv[c * D + j], inv[p * D + j]] = [inv[p * D + j], inv[c * D + j]];
      }
    }
    const piv = 1 / m[c * D + c];
    for (let j = 0; j < D; j++) {
      m[c * D + j] *= piv;
      inv[c * D + j] *= piv;
    }
    for (let r = 0; r < D; r++) {
      if (r === c) continue;
      const f = m[r * D + c];
      if (f === 0) continue;
      for (let j = 0; j < D; j++) {
        m[r * D + j] -= f * m[c * D + j];
        inv[r * D + j] -= f * inv[c * D + j];
      }
    }
  }
  return inv;
}

/** Lower Cholesky factor L (L Lᵀ = S) of a symmetric positive (semi)definite matrix, with a tiny jitter for safety. */
export function cholesky(S: ArrayLike<number>, D: number): Float64Array {
  const L = new Float64Array(D * D);
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S[i * D + j];
      for (let k = 0; k < j; k++) s -= L[i * D + k] * L[j * D + k];
      if (i === j) L[i * D + i] = Math.sqrt(Math.max(s, 1e-12));
      else L[i * D + j] = s / L[j * D + j];
    }
  }
  return L;
}

export interface LinearBanditOptions {
  /** Ridge λ of A = λI + Σ x xᵀ (default 1). */
  lambda?: number;
  /** Seed of the tie-breaking (and Thompson) draws (default 1). */
  seed?: number;
  /** Pending observations kept between updates (default 8,192: 128 steps of 64 slots). */
  queueCapacity?: number;
}

/** What the bandits need from a run: the tables and the environment's shape. */
export interface LinearBanditContext {
  tables: StateTables;
  historyLen: number;
  slateSize: number;
}

/** Each table divided by its root-mean-square (as the DQN state encoder scales its tables). */
function rmsScaled(x: Float32Array): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const rms = Math.sqrt(ss / Math.max(1, x.length));
  return Float64Array.from(x, (v) => (rms > 0 ? v / rms : 0));
}

/** The shell both bandits share; a subclass says how a slot's item scores are formed. */
export abstract class LinearBanditAgent implements Agent {
  abstract readonly kind: string;
  abstract readonly name: string;
  readonly learns = true;
  readonly nUsers: number;
  readonly nItems: number;
  /** d of the tables; the features have 3d + 1 entries. */
  readonly dim: number;
  readonly featureDim: number;
  readonly historyLen: number;
  readonly slateSize: number;
  readonly source: string;
  readonly model: RidgeModel;
  protected readonly users: Float64Array;
  protected readonly items: Float64Array;
  protected readonly rng: Rng;
  protected readonly seed: number;
  private readonly queueCapacity: number;
  private queueX: Float64Array;
  private queueR: Float64Array;
  private queued = 0;
  private queueStart = 0;
  private dropped = 0;
  private lastError = NaN;
  protected actSteps = 0;
  private disposed = false;

  protected constructor(ctx: LinearBanditContext, opts: LinearBanditOptions) {
    const t = ctx.tables;
    if (t.users.length !== t.nUsers * t.dim || t.items.length !== t.nItems * t.dim) {
      throw new GnnrlError('input', `bandit: tables hold ${t.users.length} and ${t.items.length} values, expected ${t.nUsers}×${t.dim} and ${t.nItems}×${t.dim}`, { arg: 'tables' });
    }
    check(Number.isInteger(ctx.historyLen) && ctx.historyLen >= 0, 'historyLen', `an integer >= 0, got ${ctx.historyLen}`);
    check(Number.isInteger(ctx.slateSize) && ctx.slateSize >= 1 && ctx.slateSize <= t.nItems, 'slateSize', `an integer in [1, ${t.nItems}], got ${ctx.slateSize}`);
    const lambda = opts.lambda ?? 1;
    check(typeof lambda === 'number' && lambda > 0 && Number.isFinite(lambda), 'lambda', `a finite number > 0, got ${lambda}`);
    this.seed = opts.seed ?? 1;
    check(Number.isInteger(this.seed) && this.seed >= 0, 'seed', `an integer >= 0, got ${this.seed}`);
    this.queueCapacity = opts.queueCapacity ?? 8192;
    check(Number.isInteger(this.queueCapacity) && this.queueCapacity >= 1, 'queueCapacity', `an integer >= 1, got ${this.queueCapacity}`);
    this.nUsers = t.nUsers;
    this.nItems = t.nItems;
    this.dim = t.dim;
    this.featureDim = 3 * t.dim + 1;
    this.historyLen = ctx.historyLen;
    this.slateSize = ctx.slateSize;
    this.source = t.source;
    this.users = rmsScaled(t.users);
    this.items = rmsScaled(t.items);
    this.model = new RidgeModel(this.featureDim, lambda);
    this.rng = new Rng(this.seed);
    this.queueX = new Float64Array(0);
    this.queueR = new Float64Array(0);
  }

  /** Slot b's context: its user vector and the mean vector of its window. */
  protected context(obs: Observation, b: number): { u: Float64Array; w: Float64Array } {
    const d = this.dim;
    const user = obs.user[b];
    if (!(user >= 0 && user < this.nUsers)) throw new GnnrlError('input', `${this.kind}: user ${user} (slot ${b}) is outside the tables' ${this.nUsers} users`, { arg: 'user', index: b });
    const u = this.users.subarray(user * d, (user + 1) * d);
    const w = new Float64Array(d);
    const H = obs.historyLen;
    let n = 0;
    for (let t = 0; t < H; t++) {
      const i = obs.historyItems[b * H + t];
      if (i < 0) continue;
      if (i >= this.nItems) throw new GnnrlError('input', `${this.kind}: history item ${i} (slot ${b}) is outside the tables' ${this.nItems} items`, { arg: 'history', index: b * H + t });
      for (let k = 0; k < d; k++) w[k] += this.items[i * d + k];
      n++;
    }
    if (n > 0) for (let k = 0; k < d; k++) w[k] /= n;
    return { u, w };
  }

  /** x(s, a) = [u ⊙ e_a, w̄ ⊙ e_a, e_a, 1] into `out`. */
  features(u: ArrayLike<number>, w: ArrayLike<number>, item: number, out: Float64Array): Float64Array {
    const d = this.dim;
    const e = this.items.subarray(item * d, (item + 1) * d);
    for (let k = 0; k < d; k++) {
      out[k] = u[k] * e[k];
      out[d + k] = w[k] * e[k];
      out[2 * d + k] = e[k];
    }
    out[3 * d] = 1;
    return out;
  }

  /** g with θ·x(s, a) = g·[e_a; 1] for the slot's context (length d + 1). */
  protected projectTheta(theta: ArrayLike<number>, u: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
    const d = this.dim;
    const g = new Float64Array(d + 1);
    for (let k = 0; k < d; k++) g[k] = theta[k] * u[k] + theta[d + k] * w[k] + theta[2 * d + k];
    g[d] = theta[3 * d];
    return g;
  }

  /** C = G_sᵀ A⁻¹ G_s, (d + 1) × (d + 1): xᵀA⁻¹x = [e_a; 1]ᵀ C [e_a; 1]. */
  protected projectCovariance(u: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
    const d = this.dim;
    const D = this.featureDim;
    const M = this.model.Ainv;
    const m = d + 1;
    // T = A⁻¹ G (D × m): column l < d mixes A⁻¹'s columns l, d + l, 2d + l; column d is its last.
    const T = new Float64Array(D * m);
    for (let r = 0; r < D; r++) {
      for (let l = 0; l < d; l++) T[r * m + l] = u[l] * M[r * D + l] + w[l] * M[r * D + d + l] + M[r * D + 2 * d + l];
      T[r * m + d] = M[r * D + 3 * d];
    }
    const C = new Float64Array(m * m);
    for (let l = 0; l < m; l++) {
      for (let k = 0; k < d; k++) C[k * m + l] = u[k] * T[k * m + l] + w[k] * T[(d + k) * m + l] + T[(2 * d + k) * m + l];
      C[d * m + l] = T[3 * d * m + l];
    }
    return C;
  }

  /**
   * Item scores of slot b (length nItems) when acting: LinUCB's upper bound or a Thompson
   * draw when exploring, the posterior mean θ̂·x when not.
   */
  protected abstract scoreSlot(obs: Observation, b: number, explore: boolean, theta: Float64Array): Float64Array;

  /** Called once per act() before the slots are scored (Thompson draws its factor here). */
  protected beginAct(_explore: boolean): void {}

  /** The scores slot b's items would be ranked by (before exclusions and tie-breaking). */
  itemScores(obs: Observation, b: number, explore: boolean): Float64Array {
    this.alive();
    this.beginAct(explore);
    return this.scoreSlot(obs, b, explore, this.model.theta());
  }

  async act(obs: Observation, opts: ActOptions): Promise<Int32Array> {
    this.alive();
    const out = this.select(obs, this.slateSize, historyExclusions(obs), opts.explore, true);
    if (opts.explore) this.actSteps++;
    return out;
  }

  /** The greedy policy as a ranking: k items per slot by θ̂·x, best first, skipping `exclude` (default: the window); −1 past the eligible. */
  async rank(obs: Observation, k: number, exclude?: ExcludeRows): Promise<Int32Array> {
    this.alive();
    check(Number.isInteger(k) && k >= 1, 'k', `an integer >= 1, got ${k}`);
    return this.select(obs, k, exclude ?? historyExclusions(obs), false, false);
  }

  /** The k best items per slot outside row b of `rows`; `strict` refuses a slot with fewer than k eligible (acting), else pads with −1 (ranking). */
  private select(obs: Observation, k: number, rows: ExclusionRows, explore: boolean, strict: boolean): Int32Array {
    const out = new Int32Array(obs.batch * k).fill(-1);
    const theta = this.model.theta();
    this.beginAct(explore);
    const key = new Float64Array(this.nItems);
    for (let b = 0; b < obs.batch; b++) {
      const s = this.scoreSlot(obs, b, explore, theta);
      // Ties (an untrained model scores every item 0) are broken at random when acting, by index when ranking.
      for (let i = 0; i < this.nItems; i++) key[i] = isExcluded(rows, b, i) ? -Infinity : s[i] + (strict ? 1e-9 * this.rng.next() : 0);
      for (let j = 0; j < k; j++) {
        let best = -1;
        for (let i = 0; i < this.nItems; i++) if (key[i] > -Infinity && (best < 0 || key[i] > key[best])) best = i;
        if (best < 0) {
          if (strict) throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${k} items outside its history window`, { arg: 'slateSize' });
          break;
        }
        out[b * k + j] = best;
        key[best] = -Infinity;
      }
    }
    return out;
  }

  observe(t: TransitionBatch): void {
    this.alive();
    const k = t.slateSize;
    if (k !== this.slateSize) throw new GnnrlError('input', `${this.kind}: transitions have slates of ${k}, the agent shows ${this.slateSize}`, { arg: 'slateSize' });
    const D = this.featureDim;
    const x = new Float64Array(D);
    for (let b = 0; b < t.obs.batch; b++) {
      if (t.result.skipped[b]) continue;
      const { u, w } = this.context(t.obs, b);
      for (let j = 0; j < k; j++) {
        const item = t.actions[b * k + j];
        // Per-position feedback: a slate's item earns the step's reward when it was the one clicked.
        const r = k === 1 ? t.result.reward[b] : t.result.choice[b] === j ? t.result.reward[b] : 0;
        this.enqueue(this.features(u, w, item, x), r);
      }
    }
  }

  private enqueue(x: Float64Array, r: number): void {
    const D = this.featureDim;
    if (this.queued === this.queueX.length / D) {
      if (this.queued >= this.queueCapacity) {
        // Full: the oldest pending row is dropped (only when updates are not being called).
        this.queueStart = (this.queueStart + 1) % this.queued;
        this.queued--;
        this.dropped++;
      } else {
        const cap = Math.min(this.queueCapacity, Math.max(64, this.queued * 2));
        const nx = new Float64Array(cap * D);
        const nr = new Float64Array(cap);
        for (let q = 0; q < this.queued; q++) {
          const src = (this.queueStart + q) % (this.queueX.length / D || 1);
          nx.set(this.queueX.subarray(src * D, (src + 1) * D), q * D);
          nr[q] = this.queueR[src];
        }
        this.queueX = nx;
        this.queueR = nr;
        this.queueStart = 0;
      }
    }
    const slots = this.queueX.length / D;
    const at = (this.queueStart + this.queued) % slots;
    this.queueX.set(x, at * D);
    this.queueR[at] = r;
    this.queued++;
  }

  /** Folds every pending observation into the model; reports the mean squared error of the predictions made before each fold. */
  async update(): Promise<UpdateReport | null> {
    this.alive();
    if (this.queued === 0) return null;
    const D = this.featureDim;
    const slots = this.queueX.length / D;
    let se = 0;
    const n = this.queued;
    const theta = this.model.theta();
    for (let q = 0; q < n; q++) {
      const at = (this.queueStart + q) % slots;
      const x = this.queueX.subarray(at * D, (at + 1) * D);
      let pred = 0;
      for (let i = 0; i < D; i++) pred += theta[i] * x[i];
      se += (this.queueR[at] - pred) ** 2;
      this.model.update(x, this.queueR[at]);
    }
    this.queued = 0;
    this.queueStart = 0;
    this.lastError = se / n;
    return { loss: this.lastError, exploration: this.explorationParameter(), extra: { observations: this.model.count, dropped: this.dropped } };
  }

  /** α of LinUCB, ν of Thompson sampling. */
  protected abstract explorationParameter(): number;
  protected abstract options(): Record<string, unknown>;

  async state(): Promise<ModelState> {
    this.alive();
    return {
      kind: this.kind,
      config: { ...this.options(), lambda: this.model.lambda, seed: this.seed, state: this.source, dim: this.dim, nUsers: this.nUsers, nItems: this.nItems, historyLen: this.historyLen, slateSize: this.slateSize, observations: this.model.count, actSteps: this.actSteps },
      arrays: { A: Float32Array.from(this.model.A), b: Float32Array.from(this.model.b) },
    };
  }

  /** Restores A and b from `state()` of a bandit of the same kind and shapes (A⁻¹ is recomputed directly). */
  load(state: ModelState): void {
    this.alive();
    if (state.kind !== this.kind) throw new GnnrlError('input', `${this.kind}: cannot load a '${state.kind}' state`, { arg: 'state', field: 'kind' });
    const cfg = state.config as Record<string, unknown>;
    if (cfg.nItems !== this.nItems) throw new GnnrlError('input', `${this.kind}: the state is for ${String(cfg.nItems)} items, this environment has ${this.nItems}`, { arg: 'state', field: 'nItems' });
    if (cfg.dim !== this.dim) throw new GnnrlError('input', `${this.kind}: the state is for ${String(cfg.dim)}-dimensional tables, these are ${this.dim}-dimensional`, { arg: 'state', field: 'dim' });
    const A = state.arrays.A;
    const b = state.arrays.b;
    if (!A || !b) throw new GnnrlError('input', `${this.kind}: the state lacks A or b`, { arg: 'state', field: 'arrays' });
    this.model.restore(A, b, Number(cfg.observations ?? 0));
    this.actSteps = Number(cfg.actSteps ?? 0);
  }

  protected alive(): void {
    if (this.disposed) throw new GnnrlError('state', `${this.kind}: used after dispose()`);
  }

  dispose(): void {
    this.disposed = true;
  }
}
