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
import type { PositiveIndex } from '../../data/negatives.js';
import { Rng } from '../../util/rng.js';
import type { EpochOutcome } from '../fit-loop.js';
import type { ModelState } from '../types.js';
import type { ModelContext } from './base.js';
import { PROGRESS_EVERY, applyInit, checkKind, epochOutcome, fillNormal, optNum, reportProgress, zeroUnseenRows, type EpochProgress } from './common.js';
import { MF_ARRAYS, MfModel, initMfParams, savedOptions, type MfArray, type MfParams, type MfRun, type SvdInit } from './mf-base.js';
import type { RatingData } from './rating-stats.js';
import { resolveMfOptions, type ResolvedSvdOptions, type SvdOptions } from './svd.js';

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

/** SVD's arrays with the implicit factors y_j after the item factors, the order `state()` has always listed them in. */
const SVDPP_ARRAYS: readonly MfArray<keyof SvdppParams>[] = [...MF_ARRAYS.slice(0, 2), { key: 'Y', name: 'implicitFactors', rows: 'items', factors: true }, ...MF_ARRAYS.slice(2)];

/**
 * SVD++: see the module comment. Predictions are clipped to the training rating range;
 * an unseen user has p_u = 0 and N(u) empty, an unseen item q_i = 0 and b_i = 0, so the
 * prediction falls back to the baseline μ + b_u + b_i of the side that was seen.
 * Factor form: users p_u + |N(u)|^−½ Σ y_j, items q_i, item bias b_i. Needs explicit
 * ratings.
 */
export class SVDpp extends MfModel<ResolvedSvdppOptions, SvdppParams, SvdppInit> {
  readonly kind = 'svdpp';
  readonly name = 'SVD++';
  /** p_u + |N(u)|^−½ Σ y_j per user, built on demand from the parameters. */
  private userVec: Float32Array | null = null;

  constructor(options: SvdppOptions = {}, ctx: ModelContext = {}) {
    const base = resolveMfOptions('SVDpp', { ...options, biased: true }, { factors: 20, epochs: 20, lr: 0.007, reg: 0.02 });
    const resolved = { ...base, lrYj: optNum('SVDpp', 'lrYj', options.lrYj, base.lr), regYj: optNum('SVDpp', 'regYj', options.regYj, base.reg) };
    super(SVDPP_ARRAYS, resolved, options.init, ctx);
  }

  /** Rebuilds a fitted model from `state()`. */
  static fromState(state: ModelState, ctx: ModelContext = {}): SVDpp {
    checkKind(state, 'svdpp', 'SVDpp');
    return new SVDpp(savedOptions<SvdppOptions>(state), ctx).restore(state);
  }

  /** SVD's initial parameters plus y_j (drawn after them from the same generator); then `svdppEpoch` per epoch, user by user. */
  protected start(d: RatingData, seen: PositiveIndex): MfRun<SvdppParams> {
    const o = this.options;
    const f = o.factors;
    const rng = new Rng(o.seed);
    const draw = (a: Float32Array) => fillNormal(a, rng, o.initMean, o.initSd);
    const mf = initMfParams(this.name, d, f, draw, this.init);
    const Y = draw(new Float32Array(d.nItems * f));
    applyInit(Y, this.init?.implicitFactors, this.name, 'implicitFactors');
    zeroUnseenRows(Y, f, d.itemCount);
    const p: SvdppParams = { ...mf, Y };
    const runs = userRuns(d);
    return {
      params: p,
      epoch: (progress, signal) => {
        if (o.shuffle) shuffleRuns(runs, rng);
        return svdppEpoch(d, p, seen, o, runs, progress, signal);
      },
    };
  }

  protected override paramsChanged(): void {
    this.userVec = null;
  }

  /** p_u + |N(u)|^−½ Σ_{j∈N(u)} y_j for every user (sums in float64), cached until the parameters change. */
  protected override userVectors(): Float32Array {
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
  progress?: EpochProgress,
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
      if (reportProgress(progress, done, total, sq, signal)) break;
    }
  }
  return epochOutcome(progress, done, total, sq);
}
