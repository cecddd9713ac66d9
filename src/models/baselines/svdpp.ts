/**
 * SVD++ (Koren 2008): SVD plus implicit feedback from which items a user rated,
 *
 *   r̂_ui = μ + b_u + b_i + q_i·(p_u + |N(u)|^−½ Σ_{j∈N(u)} y_j),
 *
 * N(u) = the distinct items u rated in training. SGD per rating, with e = r − r̂ and
 * z_u = |N(u)|^−½ Σ y_j as it stands before the step:
 *
 *   b_u += γ(e − λ b_u)   b_i += γ(e − λ b_i)
 *   p_u += γ(e q_i − λ p_u)   q_i += γ(e (p_u + z_u) − λ q_i)
 *   y_j += γ(e |N(u)|^−½ q_i − λ y_j)   for every j ∈ N(u)
 *
 * The last line costs O(|N(u)|·f) per rating, so O(Σ_u |N(u)|²·f) per epoch done
 * naively. Within a run of one user's ratings every y_j (j ∈ N(u)) goes through the
 * same affine maps y ← a·y + c_t (a = 1 − γ_y λ_y, c_t = γ_y e_t |N(u)|^−½ q_i(t)), so
 * we keep their composition (A, C) and Σ_j y_j in O(f) per rating and write the y_j
 * once when the user's run ends: the same result, O(ratings·f + Σ|N(u)|·f) per epoch.
 * That needs ratings visited user by user — the order the reference implementation
 * visits its trainset in — so each epoch shuffles the order of the users and the order
 * within each user's ratings.
 */
import { PositiveIndex } from '../../data/negatives.js';
import type { Interactions } from '../../data/interactions.js';
import { Rng } from '../../util/rng.js';
import { runEpochLoop, type EpochOutcome } from '../fit-loop.js';
import type { BatchProgress, FactorScores, FitOptions, FitResult, ModelState } from '../types.js';
import { BaselineModel, type ModelContext } from './base.js';
import { PROGRESS_EVERY, applyInit, checkKind, fillNormal, optNum, stateF32, zeroUnseenRows } from './common.js';
import { ratingData, type RatingData } from './rating-stats.js';
import { initMfParams, mfEstimatePairs, mfEstimateRows, resolveMfOptions, type MfParams, type ResolvedSvdOptions, type SvdInit, type SvdOptions } from './svd.js';

export interface SvdppInit extends SvdInit {
  /** nItems × factors implicit factors y_j. */
  implicitFactors?: Float32Array;
}

/**
 * Options of SVD++, defaulted as the reference implementation (Surprise) does: 20
 * `factors`, 20 `epochs`, `lr` 0.007, `reg` 0.02 for every parameter (per-parameter
 * overrides as in `SvdOptions`, plus `lrYj`, `regYj`), factors and y_j drawn from
 * N(`initMean` 0, `initSd` 0.1²) by a generator seeded with `seed` (default 1). Always
 * biased. `shuffle: false` visits users in index order and each user's ratings in log
 * order.
 */
export interface SvdppOptions extends Omit<SvdOptions, 'biased' | 'init'> {
  lrYj?: number;
  regYj?: number;
  /** Not part of `state().config`. */
  init?: SvdppInit;
}

export type ResolvedSvdppOptions = ResolvedSvdOptions & { lrYj: number; regYj: number };

interface SvdppParams extends MfParams {
  Y: Float32Array;
}

/**
 * SVD++: see the module comment. Predictions are clipped to the training rating range;
 * an unseen user has p_u = 0 and N(u) empty, an unseen item q_i = 0 and b_i = 0, so the
 * prediction falls back to the baseline μ + b_u + b_i of the side that was seen.
 * Factor form: users p_u + |N(u)|^−½ Σ y_j, items q_i, item bias b_i. Needs explicit
 * ratings.
 */
export class SVDpp extends BaselineModel {
  readonly kind = 'svdpp';
  readonly name = 'SVD++';
  readonly predictsRatings = true;
  readonly options: ResolvedSvdppOptions;
  private readonly init: SvdppInit | undefined;
  private p: SvdppParams = { P: new Float32Array(0), Q: new Float32Array(0), Y: new Float32Array(0), bu: new Float32Array(0), bi: new Float32Array(0) };
  /** p_u + |N(u)|^−½ Σ y_j per user, built on demand from the parameters. */
  private userVec: Float32Array | null = null;

  constructor(options: SvdppOptions = {}, ctx: ModelContext = {}) {
    super(ctx);
    const base = resolveMfOptions('SVDpp', { ...options, biased: true }, { factors: 20, epochs: 20, lr: 0.007, reg: 0.02 });
    this.options = { ...base, lrYj: optNum('SVDpp', 'lrYj', options.lrYj, base.lr), regYj: optNum('SVDpp', 'regYj', options.regYj, base.reg) };
    this.init = options.init;
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): SVDpp {
    checkKind(state, 'svdpp', 'SVDpp');
    const { init: _ignored, ...config } = state.config as SvdppOptions;
    const m = new SVDpp(config, ctx);
    const fs = m.installCommonState(state);
    const f = m.options.factors;
    m.p = {
      P: stateF32(state, 'userFactors', fs.nUsers * f, m.name),
      Q: stateF32(state, 'itemFactors', fs.nItems * f, m.name),
      Y: stateF32(state, 'implicitFactors', fs.nItems * f, m.name),
      bu: stateF32(state, 'userBias', fs.nUsers, m.name),
      bi: stateF32(state, 'itemBias', fs.nItems, m.name),
    };
    return m;
  }

  async fit(train: Interactions, opts: FitOptions = {}): Promise<FitResult> {
    this.checkNotDisposed('fit');
    const d = ratingData(train, this.name);
    const o = this.options;
    const f = o.factors;
    const rng = new Rng(o.seed);
    const draw = (a: Float32Array) => fillNormal(a, rng, o.initMean, o.initSd);
    const mf = initMfParams(this.name, d, f, draw, this.init);
    const Y = draw(new Float32Array(d.nItems * f));
    applyInit(Y, this.init?.implicitFactors, this.name, 'implicitFactors');
    zeroUnseenRows(Y, f, d.itemCount);
    const p: SvdppParams = { ...mf, Y };
    const seen = PositiveIndex.of(train);
    this.p = p;
    this.userVec = null;
    this.installCommon(
      { nUsers: d.nUsers, nItems: d.nItems, globalMean: d.globalMean, ratingMin: d.ratingMin, ratingMax: d.ratingMax },
      d.userCount,
      d.itemCount,
      seen,
    );
    const runs = userRuns(d);
    let best: SvdppParams | null = null;
    return runEpochLoop(
      {
        defaultEpochs: o.epochs,
        runEpoch: async (_epoch, progress, signal) => {
          if (o.shuffle) shuffleRuns(runs, rng);
          const out = svdppEpoch(d, p, seen, o, runs, progress, signal);
          this.userVec = null;
          return out;
        },
        validate: this.validator(opts),
        defaultMonitor: 'rmse',
        saveBest: () => {
          best = { P: p.P.slice(), Q: p.Q.slice(), Y: p.Y.slice(), bu: p.bu.slice(), bi: p.bi.slice() };
        },
        restoreBest: () => {
          if (!best) return;
          p.P.set(best.P);
          p.Q.set(best.Q);
          p.Y.set(best.Y);
          p.bu.set(best.bu);
          p.bi.set(best.bi);
          this.userVec = null;
        },
      },
      opts,
    );
  }

  /** Users p_u + |N(u)|^−½ Σ y_j, items q_i, item bias b_i. */
  async factors(): Promise<FactorScores> {
    this.ready('factors');
    return this.factorForm();
  }

  protected factorForm(): FactorScores {
    return { dim: this.options.factors, users: this.userVectors(), items: this.p.Q, itemBias: this.p.bi };
  }

  /** p_u + |N(u)|^−½ Σ_{j∈N(u)} y_j for every user (sums in float64). */
  private userVectors(): Float32Array {
    if (this.userVec) return this.userVec;
    const { P, Y } = this.p;
    const f = this.options.factors;
    const seen = this.seen!;
    const nUsers = this.fitted!.nUsers;
    const out = new Float32Array(nUsers * f);
    const acc = new Float64Array(f);
    for (let u = 0; u < nUsers; u++) {
      const lo = seen.offsets[u];
      const hi = seen.offsets[u + 1];
      acc.fill(0);
      for (let t = lo; t < hi; t++) {
        const jo = seen.items[t] * f;
        for (let c = 0; c < f; c++) acc[c] += Y[jo + c];
      }
      const s = hi > lo ? 1 / Math.sqrt(hi - lo) : 0;
      for (let c = 0; c < f; c++) out[u * f + c] = P[u * f + c] + s * acc[c];
    }
    this.userVec = out;
    return out;
  }

  protected estimatePairs(users: Int32Array, items: Int32Array, out: Float32Array): void {
    const p = this.p;
    mfEstimatePairs(this.fitted!.globalMean, true, this.options.factors, this.userVectors(), p.Q, p.bu, p.bi, this.userCount, this.itemCount, users, items, out);
  }

  protected estimateRows(users: Int32Array, out: Float32Array): void {
    const p = this.p;
    mfEstimateRows(this.fitted!.globalMean, true, this.options.factors, this.userVectors(), p.Q, p.bu, p.bi, this.fitted!.nItems, users, out);
  }

  protected configJson(): Record<string, unknown> {
    return { ...this.options };
  }

  protected stateArrays(): Record<string, Float32Array | Int32Array> {
    const p = this.p;
    return { userFactors: p.P, itemFactors: p.Q, implicitFactors: p.Y, userBias: p.bu, itemBias: p.bi };
  }

  protected release(): void {
    this.p = { P: new Float32Array(0), Q: new Float32Array(0), Y: new Float32Array(0), bu: new Float32Array(0), bi: new Float32Array(0) };
    this.userVec = null;
  }
}

/** Each user's events (indices into the log) as one run; `users` lists the users that have any, in visiting order. */
interface UserRuns {
  users: Int32Array;
  offsets: Int32Array;
  events: Int32Array;
}

function userRuns(d: RatingData): UserRuns {
  const offsets = new Int32Array(d.nUsers + 1);
  for (let u = 0; u < d.nUsers; u++) offsets[u + 1] = offsets[u] + d.userCount[u];
  const cursor = offsets.slice(0, d.nUsers);
  const events = new Int32Array(d.user.length);
  for (let e = 0; e < d.user.length; e++) events[cursor[d.user[e]]++] = e;
  let k = 0;
  for (let u = 0; u < d.nUsers; u++) if (d.userCount[u] > 0) k++;
  const users = new Int32Array(k);
  for (let u = 0, w = 0; u < d.nUsers; u++) if (d.userCount[u] > 0) users[w++] = u;
  return { users, offsets, events };
}

function shuffleRuns(r: UserRuns, rng: Rng): void {
  rng.shuffle(r.users);
  for (let u = 0; u + 1 < r.offsets.length; u++) {
    if (r.offsets[u + 1] - r.offsets[u] > 1) rng.shuffle(r.events.subarray(r.offsets[u], r.offsets[u + 1]));
  }
}

/** One SGD pass, user by user (see the module comment); returns the mean squared error of the predictions made before each step. */
function svdppEpoch(
  d: RatingData,
  p: SvdppParams,
  seen: PositiveIndex,
  o: ResolvedSvdppOptions,
  runs: UserRuns,
  progress?: (x: Omit<BatchProgress, 'epoch'>) => void,
  signal?: AbortSignal,
): EpochOutcome {
  const { P, Q, Y, bu, bi } = p;
  const f = o.factors;
  const mu = d.globalMean;
  const { lrBu, lrBi, lrPu, lrQi, lrYj, regBu, regBi, regPu, regQi, regYj } = o;
  const a = 1 - lrYj * regYj;
  const { item, rating } = d;
  const S = new Float64Array(f); // Σ_{j∈N(u)} y_j, current
  const C = new Float64Array(f); // offset of the composed affine map y ← A·y + C
  const z = new Float64Array(f); // |N(u)|^−½ Σ y_j before this step
  const total = d.user.length;
  let sq = 0;
  let done = 0;
  let nextReport = PROGRESS_EVERY;
  for (let k = 0; k < runs.users.length; k++) {
    const u = runs.users[k];
    const nlo = seen.offsets[u];
    const nhi = seen.offsets[u + 1];
    const nN = nhi - nlo;
    const s = 1 / Math.sqrt(nN);
    S.fill(0);
    C.fill(0);
    let A = 1;
    for (let t = nlo; t < nhi; t++) {
      const jo = seen.items[t] * f;
      for (let c = 0; c < f; c++) S[c] += Y[jo + c];
    }
    const po = u * f;
    for (let t = runs.offsets[u]; t < runs.offsets[u + 1]; t++) {
      const e = runs.events[t];
      const i = item[e];
      const qo = i * f;
      let dot = 0;
      for (let c = 0; c < f; c++) {
        z[c] = S[c] * s;
        dot += Q[qo + c] * (P[po + c] + z[c]);
      }
      const err = rating[e] - (mu + bu[u] + bi[i] + dot);
      bu[u] += lrBu * (err - regBu * bu[u]);
      bi[i] += lrBi * (err - regBi * bi[i]);
      for (let c = 0; c < f; c++) {
        const pf = P[po + c];
        const qf = Q[qo + c];
        P[po + c] = pf + lrPu * (err * qf - regPu * pf);
        Q[qo + c] = qf + lrQi * (err * (pf + z[c]) - regQi * qf);
        const g = lrYj * err * qf * s;
        S[c] = a * S[c] + nN * g;
        C[c] = a * C[c] + g;
      }
      A *= a;
      sq += err * err;
      done++;
    }
    // Apply the user's composed update to each y_j once.
    for (let t = nlo; t < nhi; t++) {
      const jo = seen.items[t] * f;
      for (let c = 0; c < f; c++) Y[jo + c] = A * Y[jo + c] + C[c];
    }
    if (done >= nextReport) {
      nextReport = done + PROGRESS_EVERY;
      progress?.({ done, total, loss: sq / done });
      if (signal?.aborted) break;
    }
  }
  progress?.({ done, total, loss: done ? sq / done : 0 });
  return { loss: done ? sq / done : 0, samples: done };
}
