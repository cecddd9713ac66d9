/**
 * LinUCB (Li, Chu, Langford & Schapire, WWW 2010) in its shared-model form over the whole
 * catalogue: each step shows, per slot, the items with the highest upper confidence bound
 *
 *   UCB(s, a) = θ̂·x(s, a) + α · sqrt(x(s, a)ᵀ A⁻¹ x(s, a))
 *
 * with the features, the ridge model and its exact Sherman–Morrison updates of
 * linear-bandit.ts. α trades exploration for exploitation (0: greedy on θ̂). Acting with
 * `explore: false` (evaluation) ranks by θ̂·x alone.
 */
import { check } from '../../errors.js';
import type { Observation } from '../types.js';
import { LinearBanditAgent, type LinearBanditContext, type LinearBanditOptions } from './linear-bandit.js';

export interface LinUcbOptions extends LinearBanditOptions {
  /** Width of the confidence bonus (default 1). */
  alpha?: number;
}

export class LinUcbAgent extends LinearBanditAgent {
  readonly kind = 'linucb';
  readonly name: string;
  readonly alpha: number;

  constructor(ctx: LinearBanditContext, opts: LinUcbOptions = {}) {
    super(ctx, opts);
    this.alpha = opts.alpha ?? 1;
    check(typeof this.alpha === 'number' && this.alpha >= 0 && Number.isFinite(this.alpha), 'alpha', `a finite number >= 0, got ${this.alpha}`);
    this.name = `LinUCB (${this.source} vectors)`;
  }

  protected scoreSlot(obs: Observation, b: number, explore: boolean, theta: Float64Array): Float64Array {
    const d = this.dim;
    const m = d + 1;
    const { u, w } = this.context(obs, b);
    const g = this.projectTheta(theta, u, w);
    const C = explore && this.alpha > 0 ? this.projectCovariance(u, w) : null;
    const out = new Float64Array(this.nItems);
    const z = new Float64Array(m);
    z[d] = 1;
    for (let i = 0; i < this.nItems; i++) {
      for (let k = 0; k < d; k++) z[k] = this.items[i * d + k];
      let mean = 0;
      for (let k = 0; k < m; k++) mean += g[k] * z[k];
      if (C) {
        // zᵀCz over the upper triangle (C is symmetric): half the multiply-adds.
        let q = 0;
        for (let r = 0; r < m; r++) {
          const zr = z[r];
          let s = 0.5 * C[r * m + r] * zr;
          for (let c = r + 1; c < m; c++) s += C[r * m + c] * z[c];
          q += zr * s;
        }
        q *= 2;
        mean += this.alpha * Math.sqrt(Math.max(q, 0));
      }
      out[i] = mean;
    }
    return out;
  }

  protected explorationParameter(): number {
    return this.alpha;
  }

  protected options(): Record<string, unknown> {
    return { alpha: this.alpha };
  }
}
