/**
 * What the matrix-factorisation baselines (SVD, SVD++, NMF) share around their epochs:
 * the parameter arrays and where `state()` keeps them, the random start, the fit around
 * the epoch loop (install, best-epoch copy and restore), `fromState`, and the estimates
 * r̂_ui = μ + b_u + b_i + q_i·x_u from the factor form. The models differ only in how
 * an epoch moves the parameters and in the user vector x_u (p_u; SVD++ adds its implicit
 * term), so each supplies `start` (its checks, initial parameters and epoch) and, where
 * x_u is not p_u, `userVectors`.
 */
import { PositiveIndex } from '../../data/negatives.js';
import type { Interactions } from '../../data/interactions.js';
import { runEpochLoop, type EpochOutcome } from '../fit-loop.js';
import type { FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type FittedScalars, type ModelContext } from './base.js';
import { applyInit, stateF32, zeroUnseenRows, type EpochProgress } from './common.js';
import { ratingData, type RatingData } from './rating-stats.js';

/** Initial parameters instead of random ones (hand-checkable tests, warm starts); each optional, checked for length. */
export interface SvdInit {
  /** nUsers × factors, row-major. */
  userFactors?: Float32Array;
  /** nItems × factors, row-major. */
  itemFactors?: Float32Array;
  /** nUsers (default zeros). */
  userBias?: Float32Array;
  /** nItems (default zeros). */
  itemBias?: Float32Array;
}

/** Parameters of a factor model, all on the host. */
export interface MfParams {
  P: Float32Array;
  Q: Float32Array;
  bu: Float32Array;
  bi: Float32Array;
}

/** One parameter array: its key in the params, its name in `state().arrays`, and its shape. */
export interface MfArray<K extends string> {
  key: K;
  name: string;
  /** One row per user or per item. */
  rows: 'users' | 'items';
  /** `factors` entries per row, else one (a bias). */
  factors: boolean;
}

/** The arrays of SVD and NMF, in the order `state()` lists them (checkpoints keep that order). */
export const MF_ARRAYS: readonly MfArray<keyof MfParams>[] = [
  { key: 'P', name: 'userFactors', rows: 'users', factors: true },
  { key: 'Q', name: 'itemFactors', rows: 'items', factors: true },
  { key: 'bu', name: 'userBias', rows: 'users', factors: false },
  { key: 'bi', name: 'itemBias', rows: 'items', factors: false },
];

/** Random initial parameters (drawn for every row, so a seed fixes them whatever the data), then `init`, then unseen rows zeroed. */
export function initMfParams(model: string, d: RatingData, f: number, draw: (a: Float32Array) => void, init: SvdInit | undefined): MfParams {
  const P = new Float32Array(d.nUsers * f);
  const Q = new Float32Array(d.nItems * f);
  draw(P);
  draw(Q);
  const bu = new Float32Array(d.nUsers);
  const bi = new Float32Array(d.nItems);
  applyInit(P, init?.userFactors, model, 'userFactors');
  applyInit(Q, init?.itemFactors, model, 'itemFactors');
  applyInit(bu, init?.userBias, model, 'userBias');
  applyInit(bi, init?.itemBias, model, 'itemBias');
  zeroUnseenRows(P, f, d.userCount);
  zeroUnseenRows(Q, f, d.itemCount);
  zeroUnseenRows(bu, 1, d.userCount);
  zeroUnseenRows(bi, 1, d.itemCount);
  return { P, Q, bu, bi };
}

/** The params as the record of arrays they are, for the loops over all of them. */
function arraysOf(p: MfParams): Record<string, Float32Array> {
  return p as unknown as Record<string, Float32Array>;
}

/** A copy of every array of `p` (the best epoch's parameters, kept aside). */
export function copyParams<P extends MfParams>(p: P): P {
  const c: Record<string, Float32Array> = {};
  for (const [k, a] of Object.entries(arraysOf(p))) c[k] = a.slice();
  return c as unknown as P;
}

/** Writes `from` back into `p`'s arrays in place (the epoch functions hold those arrays). */
export function setParams<P extends MfParams>(p: P, from: P): void {
  const src = arraysOf(from);
  for (const [k, a] of Object.entries(arraysOf(p))) a.set(src[k]);
}

/** The options saved in a factor model's state, less an `init` should one be there (initial values are never saved). */
export function savedOptions<C>(state: ModelState): C {
  const { init: _ignored, ...config } = state.config as { init?: unknown };
  return config as C;
}

/** Options every factor model resolves (a type, not an interface, so that `configJson` may spread it into a record). */
export type MfModelOptions = {
  factors: number;
  epochs: number;
  biased: boolean;
};

/** What `start` hands the shared fit: the initial parameters and one epoch over them. */
export interface MfRun<P> {
  params: P;
  /** One pass over the ratings (see `EpochLoopSpec.runEpoch`); typed-array loops, no allocation per rating. */
  epoch: (progress: EpochProgress, signal?: AbortSignal) => EpochOutcome;
}

/**
 * A factor model r̂_ui = μ + b_u + b_i + q_i·x_u (unbiased: q_i·x_u), clipped to the
 * training rating range by `BaselineModel`. Unseen users and items keep zero rows and
 * biases, so the biased estimate falls back to the baseline of the side that was seen;
 * the unbiased one falls back to μ unless both sides were seen.
 */
export abstract class MfModel<O extends MfModelOptions, P extends MfParams, I extends SvdInit = SvdInit> extends BaselineModel {
  readonly predictsRatings = true;
  readonly options: O;
  /** `options.init`: used by `fit`, never saved. */
  protected readonly init: I | undefined;
  protected p: P;
  private readonly arrays: readonly MfArray<keyof P & string>[];

  protected constructor(arrays: readonly MfArray<keyof P & string>[], options: O, init: I | undefined, ctx: ModelContext) {
    super(ctx);
    this.arrays = arrays;
    this.options = options;
    this.init = init;
    this.p = this.emptyParams();
  }

  /**
   * The second half of every factor model's `fromState` (after the kind check and the
   * construction from `savedOptions`): the common state, then the parameter arrays in
   * `state()` order, each checked for its length.
   */
  protected restore(state: ModelState): this {
    const fs = this.installCommonState(state);
    this.p = this.paramsFromState(state, fs);
    return this;
  }

  /**
   * The model's checks, initial parameters and epoch, for training data `d` (`seen`: its
   * training index). Throws before anything is installed, so a failed `fit` leaves the
   * model as it was.
   */
  protected abstract start(d: RatingData, seen: PositiveIndex): MfRun<P>;

  /** Called whenever the parameters change (a new fit, each epoch, the best epoch put back, `dispose`): SVD++ drops its cached user vectors. */
  protected paramsChanged(): void {}

  /** x_u per user (nUsers × factors), the factor form's user side: p_u unless a model adds to it. */
  protected userVectors(): Float32Array {
    return this.p.P;
  }

  /**
   * Fits by `options.epochs` epochs of the model's updates (`opts.epochs` overrides),
   * keeping the best epoch's parameters when validating.
   */
  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const d = ratingData(train, this.name);
    const seen = PositiveIndex.of(train);
    const { params: p, epoch } = this.start(d, seen);
    this.p = p;
    this.paramsChanged();
    this.installRatings(d, seen);
    let best: P | null = null;
    return runEpochLoop(
      {
        defaultEpochs: this.options.epochs,
        runEpoch: async (_epoch, progress, signal) => {
          const out = epoch(progress, signal);
          this.paramsChanged();
          return out;
        },
        validate: this.validator(opts),
        defaultMonitor: 'rmse',
        saveBest: () => {
          best = copyParams(p);
        },
        restoreBest: () => {
          if (!best) return;
          setParams(p, best);
          this.paramsChanged();
        },
      },
      opts,
    );
  }

  /** Users x_u, items q_i, item bias b_i when biased (views of the parameters: do not modify). */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    return { dim: this.options.factors, users: this.userVectors(), items: this.p.Q, itemBias: this.options.biased ? this.p.bi : undefined };
  }

  /** Biased μ + b_u + b_i + x_u·q_i (unseen rows are zero, so the fallback is built in); unbiased x_u·q_i when both sides were seen, else μ. */
  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    const mu = this.fitted!.globalMean;
    const { biased, factors: f } = this.options;
    const P = this.userVectors();
    const { Q, bu, bi } = this.p;
    const { userCount, itemCount } = this;
    const nU = userCount.length;
    const nI = itemCount.length;
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      const i = items[j];
      const ku = u < nU && userCount[u] > 0;
      const ki = i < nI && itemCount[i] > 0;
      let dot = 0;
      if (ku && ki) for (let c = 0; c < f; c++) dot += P[u * f + c] * Q[i * f + c];
      if (biased) out[j] = mu + (ku ? bu[u] : 0) + (ki ? bi[i] : 0) + dot;
      else out[j] = ku && ki ? dot : mu;
    }
  }

  /**
   * Ranking scores from the factor form plus the user's constant: biased μ + b_u + b_i +
   * x_u·q_i (= the estimate: unseen rows and biases are zero), unbiased x_u·q_i (0 where a
   * side is unseen, unlike the μ of the estimate).
   */
  protected estimateRows(users: Int32Array, out: Float32Array): void {
    const mu = this.fitted!.globalMean;
    const nItems = this.fitted!.nItems;
    const { biased, factors: f } = this.options;
    const P = this.userVectors();
    const { Q, bu, bi } = this.p;
    for (let r = 0; r < users.length; r++) {
      const u = users[r];
      const c0 = biased ? mu + bu[u] : 0;
      const po = u * f;
      const row = r * nItems;
      for (let i = 0; i < nItems; i++) {
        let dot = 0;
        for (let c = 0; c < f; c++) dot += P[po + c] * Q[i * f + c];
        out[row + i] = (biased ? c0 + bi[i] : 0) + dot;
      }
    }
  }

  protected configJson(): Record<string, unknown> {
    return { ...this.options };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    const p = arraysOf(this.p);
    const a: Record<string, Float32Array> = {};
    for (const s of this.arrays) a[s.name] = p[s.key];
    return a;
  }

  protected release(): void {
    this.p = this.emptyParams();
    this.paramsChanged();
  }

  private emptyParams(): P {
    const p: Record<string, Float32Array> = {};
    for (const s of this.arrays) p[s.key] = new Float32Array(0);
    return p as unknown as P;
  }

  private paramsFromState(state: ModelState, fs: FittedScalars): P {
    const f = this.options.factors;
    const p: Record<string, Float32Array> = {};
    for (const s of this.arrays) p[s.key] = stateF32(state, s.name, (s.rows === 'users' ? fs.nUsers : fs.nItems) * (s.factors ? f : 1), this.name);
    return p as unknown as P;
  }
}
