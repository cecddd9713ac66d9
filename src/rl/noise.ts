/**
 * Exploration noise for continuous actions, one independent process per episode slot,
 * seeded, on the host (actions are small: slots × action dimension):
 *
 *   gaussian              ε_t ~ N(0, σ²) per coordinate, independent over time
 *                         (what TD3 found as good as OU, and simpler);
 *   ornstein-uhlenbeck    x_{t+1} = x_t + θ(μ − x_t)·dt + σ√dt·N(0, 1)
 *                         (DDPG's original choice: temporally correlated, so a slot
 *                         keeps exploring in one direction for ~1/θ steps).
 *
 * `reset(slot)` returns that slot's process to its start (x = μ) when its episode ends,
 * so one user's exploration does not carry into the next user's session. The stationary
 * OU law is N(μ, σ²/(2θ)) for dt = 1 (exactly N(μ, σ²·dt/(1 − (1 − θdt)²)) for the
 * Euler step used here), which the tests check.
 */
import { GnnrlError } from '../errors.js';
import { Rng } from '../util/rng.js';

export type NoiseKind = 'ou' | 'gaussian';

export interface NoiseOptions {
  kind: NoiseKind;
  /** Episode slots (independent processes). */
  slots: number;
  /** Coordinates per slot. */
  dim: number;
  /** Scale σ (>= 0; 0 = no noise). */
  sigma: number;
  /** OU mean-reversion rate θ in (0, 1/dt] (default 0.15). */
  theta?: number;
  /** OU long-run mean μ (default 0). */
  mu?: number;
  /** OU time step (default 1). */
  dt?: number;
  seed: number;
}

export interface Noise {
  readonly kind: NoiseKind;
  readonly slots: number;
  readonly dim: number;
  sigma: number;
  /** Next noise sample for every slot: slots × dim, row-major (a view valid until the next call). */
  sample(): Float32Array;
  /** Restarts slot b's process (OU: x = μ); all slots when b is omitted. */
  reset(slot?: number): void;
}

function positive(v: number, arg: string, ok: boolean, want: string): void {
  if (!ok) throw new GnnrlError('input', `noise: ${arg}: expected ${want}, got ${JSON.stringify(v)}`, { arg });
}

class GaussianNoise implements Noise {
  readonly kind = 'gaussian' as const;
  private readonly out: Float32Array;
  constructor(
    readonly slots: number,
    readonly dim: number,
    public sigma: number,
    private readonly rng: Rng,
  ) {
    this.out = new Float32Array(slots * dim);
  }
  sample(): Float32Array {
    const o = this.out;
    for (let i = 0; i < o.length; i++) o[i] = this.sigma * this.rng.normal();
    return o;
  }
  reset(): void {
    // Memoryless: nothing to restart.
  }
}

class OrnsteinUhlenbeckNoise implements Noise {
  readonly kind = 'ou' as const;
  private readonly x: Float64Array;
  private readonly out: Float32Array;
  constructor(
    readonly slots: number,
    readonly dim: number,
    public sigma: number,
    private readonly theta: number,
    private readonly mu: number,
    private readonly dt: number,
    private readonly rng: Rng,
  ) {
    this.x = new Float64Array(slots * dim).fill(mu);
    this.out = new Float32Array(slots * dim);
  }
  sample(): Float32Array {
    const { x, out, theta, mu, dt } = this;
    const s = this.sigma * Math.sqrt(dt);
    for (let i = 0; i < x.length; i++) {
      x[i] += theta * (mu - x[i]) * dt + s * this.rng.normal();
      out[i] = x[i];
    }
    return out;
  }
  reset(slot?: number): void {
    if (slot === undefined) this.x.fill(this.mu);
    else this.x.fill(this.mu, slot * this.dim, (slot + 1) * this.dim);
  }
}

/** A seeded noise process per slot; bad options are `input` errors naming the option. */
export function createNoise(o: NoiseOptions): Noise {
  positive(o.slots, 'slots', Number.isInteger(o.slots) && o.slots >= 1, 'an integer >= 1');
  positive(o.dim, 'dim', Number.isInteger(o.dim) && o.dim >= 1, 'an integer >= 1');
  positive(o.sigma, 'sigma', Number.isFinite(o.sigma) && o.sigma >= 0, 'a number >= 0');
  const rng = new Rng(o.seed);
  if (o.kind === 'gaussian') return new GaussianNoise(o.slots, o.dim, o.sigma, rng);
  if (o.kind !== 'ou') throw new GnnrlError('input', `noise: kind: expected 'ou' or 'gaussian', got ${JSON.stringify(o.kind)}`, { arg: 'noise' });
  const dt = o.dt ?? 1;
  const theta = o.theta ?? 0.15;
  positive(dt, 'dt', Number.isFinite(dt) && dt > 0, 'a number > 0');
  // θ·dt > 1 overshoots the mean every step (the Euler step oscillates); > 2 diverges.
  positive(theta, 'theta', Number.isFinite(theta) && theta > 0 && theta * dt <= 1, `a number in (0, ${1 / dt}] (θ·dt ≤ 1)`);
  const mu = o.mu ?? 0;
  positive(mu, 'mu', Number.isFinite(mu), 'a finite number');
  return new OrnsteinUhlenbeckNoise(o.slots, o.dim, o.sigma, theta, mu, dt, rng);
}

/** Variance of the stationary law of the Euler OU step: σ²dt / (1 − (1 − θdt)²). */
export function ouStationaryVariance(sigma: number, theta: number, dt = 1): number {
  const a = 1 - theta * dt;
  return (sigma * sigma * dt) / (1 - a * a);
}
