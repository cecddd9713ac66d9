/**
 * Linear Thompson sampling (Agrawal & Goyal, ICML 2013) on the same shared model as
 * LinUCB: each exploring step draws, per slot, θ̃ ~ N(θ̂, ν² A⁻¹) and shows the items with
 * the highest θ̃·x(s, a). The Cholesky factor of A⁻¹ is formed once per act (O(D³)), each
 * slot's draw then costs O(D²) and scoring every item O(d) per item. Acting with
 * `explore: false` ranks by the posterior mean θ̂·x.
 */
import { check } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import type { Observation } from '../types.js';
import { LinearBanditAgent, cholesky, type LinearBanditContext, type LinearBanditOptions } from './linear-bandit.js';

export interface LinTsOptions extends LinearBanditOptions {
  /** Posterior scale ν (default 0.5). */
  nu?: number;
}

export class LinTsAgent extends LinearBanditAgent {
  readonly kind = 'lints';
  readonly name: string;
  readonly nu: number;
  private factor: Float64Array | null = null;
  private readonly drawRng: Rng;

  constructor(ctx: LinearBanditContext, opts: LinTsOptions = {}) {
    super(ctx, opts);
    this.nu = opts.nu ?? 0.5;
    check(typeof this.nu === 'number' && this.nu >= 0 && Number.isFinite(this.nu), 'nu', `a finite number >= 0, got ${this.nu}`);
    this.name = `Linear TS (${this.source} vectors)`;
    // Its own stream, so the draws do not shift the tie-breaking stream.
    this.drawRng = new Rng((this.seed ^ 0x7195) | 0);
  }

  protected override beginAct(explore: boolean): void {
    this.factor = explore && this.nu > 0 ? cholesky(this.model.Ainv, this.featureDim) : null;
  }

  protected scoreSlot(obs: Observation, b: number, _explore: boolean, theta: Float64Array): Float64Array {
    const D = this.featureDim;
    const d = this.dim;
    let t = theta;
    const L = this.factor;
    if (L) {
      const xi = new Float64Array(D);
      for (let i = 0; i < D; i++) xi[i] = this.drawRng.normal();
      t = Float64Array.from(theta);
      for (let i = 0; i < D; i++) {
        let s = 0;
        for (let j = 0; j <= i; j++) s += L[i * D + j] * xi[j];
        t[i] += this.nu * s;
      }
    }
    const { u, w } = this.context(obs, b);
    const g = this.projectTheta(t, u, w);
    const out = new Float64Array(this.nItems);
    for (let i = 0; i < this.nItems; i++) {
      let s = g[d];
      for (let k = 0; k < d; k++) s += g[k] * this.items[i * d + k];
      out[i] = s;
    }
    return out;
  }

  protected explorationParameter(): number {
    return this.nu;
  }

  protected options(): Record<string, unknown> {
    return { nu: this.nu };
  }
}
