/**
 * The options every graph encoder takes (each subclass adds its own), their defaults and
 * the checks that resolve them, split from base.ts so the CLI can check a value (e.g. the
 * dim against what the SpMM kernels take) without loading the model machinery.
 */
import { GnnrlError } from '../../errors.js';
import type { NegativeStrategy } from '../../data/negatives.js';
import { SPMM_MAX_D } from '../../kernels/spmm.js';
import type { Objective } from '../types.js';
import { ENCODER_INPUTS, type EncoderInput } from './features.js';
import { checkChoice, checkInt, checkNumber, checkPositive } from '../option-checks.js';

/** Options every graph encoder takes. */
export interface GraphEncoderOptions {
  /** Width of the ego embeddings (default 64). */
  dim?: number;
  /** 'bpr' (default): rank observed over sampled items; 'mse': regress ratings (needs them). */
  objective?: Objective;
  /**
   * Adam learning rate (default 1e-2). LightGCN's paper uses 1e-3 on logs with hundreds
   * of steps per epoch; on a 40K-event log (20 steps per epoch) 1e-3 had not moved past
   * popularity after 9 epochs, while 1e-2 beat it by a third in NDCG@20 within 16.
   */
  lr?: number;
  /**
   * L2 penalty on the ego embeddings of each batch's nodes (and, for 'mse', their
   * biases): l2/2 · Σ‖e⁰‖² / batch, LightGCN's regulariser (default 1e-4).
   */
  l2?: number;
  /** Adam's L2 weight decay on the encoder's own weights, not the embeddings (default 0). */
  weightDecay?: number;
  /** Training examples per step (default 2048). */
  batchSize?: number;
  /** Negative sampling for 'bpr' (default 'uniform'). */
  negatives?: NegativeStrategy;
  /** Popularity weight count^exponent when negatives = 'popularity' (default 0.75, word2vec's). */
  popularityExponent?: number;
  /** Epochs when `fit` is not told (default: the subclass's). */
  epochs?: number;
  /** Seed of initialisation, shuffling and sampling (default 1). */
  seed?: number;
  /** Ego embeddings from ids (default), node features, or both (see features.ts). */
  input?: EncoderInput;
  /** Standard deviation of the id embeddings' initialisation (default 0.1). */
  initStd?: number;
  /** Batches between loss readbacks (progress reports, abort checks; default 16). */
  syncEvery?: number;
  /** Validation users scored per epoch (default all; a seeded subsample otherwise). */
  validationUsers?: number;
}

/** Options after defaults: every field present and checked. */
export type ResolvedEncoderOptions = Required<Omit<GraphEncoderOptions, 'validationUsers'>> & { validationUsers: number | null };

/** The defaults every encoder starts from (LightGCN's published settings where they apply). */
export const ENCODER_DEFAULTS: Readonly<ResolvedEncoderOptions> = Object.freeze({
  dim: 64,
  objective: 'bpr',
  lr: 1e-2,
  l2: 1e-4,
  weightDecay: 0,
  batchSize: 2048,
  negatives: 'uniform',
  popularityExponent: 0.75,
  epochs: 50,
  seed: 1,
  input: 'id',
  initStd: 0.1,
  syncEvery: 16,
  validationUsers: null,
});

const positiveInt = (v: unknown, name: string) => checkInt(`encoder: ${name}`, v);

/** The widest embedding an encoder takes: the SpMM kernel's row width (kernels/spmm.ts). */
export const ENCODER_MAX_DIM = SPMM_MAX_D;

/** An encoder's dim, checked against what its kernels take (so a bad value fails before any data is loaded). */
export function encoderDim(v: unknown, where: string): number {
  const d = checkInt(where, v);
  if (d > ENCODER_MAX_DIM) throw new GnnrlError('input', `${where}: expected an integer in [1, ${ENCODER_MAX_DIM}] (the widest row the SpMM kernels take), got ${d}`, { arg: 'dim' });
  return d;
}
const integer = (v: unknown, name: string, min: number) => checkInt(`encoder: ${name}`, v, min);
const nonNegative = (v: unknown, name: string) => checkNumber(`encoder: ${name}`, v);
const oneOf = <T extends string>(v: unknown, allowed: readonly T[], name: string) => checkChoice(`encoder: ${name}`, v, allowed);

/** Merges options over defaults and checks every value, naming the bad one. */
export function resolveEncoderOptions(opts: GraphEncoderOptions, defaults: Partial<ResolvedEncoderOptions> = {}): ResolvedEncoderOptions {
  const pick = <K extends keyof ResolvedEncoderOptions>(k: K): ResolvedEncoderOptions[K] => (opts[k as keyof GraphEncoderOptions] ?? defaults[k] ?? ENCODER_DEFAULTS[k]) as ResolvedEncoderOptions[K];
  const lr = pick('lr');
  checkPositive('encoder: lr', lr);
  const vu = pick('validationUsers');
  return {
    dim: encoderDim(pick('dim'), 'encoder: dim'),
    objective: oneOf(pick('objective'), ['bpr', 'mse'] as const, 'objective'),
    lr,
    l2: nonNegative(pick('l2'), 'l2'),
    weightDecay: nonNegative(pick('weightDecay'), 'weightDecay'),
    batchSize: positiveInt(pick('batchSize'), 'batchSize'),
    negatives: oneOf(pick('negatives'), ['uniform', 'popularity'] as const, 'negatives'),
    popularityExponent: nonNegative(pick('popularityExponent'), 'popularityExponent'),
    epochs: integer(pick('epochs'), 'epochs', 0),
    seed: integer(pick('seed'), 'seed', -(2 ** 31)),
    input: oneOf(pick('input'), ENCODER_INPUTS, 'input'),
    initStd: nonNegative(pick('initStd'), 'initStd'),
    syncEvery: positiveInt(pick('syncEvery'), 'syncEvery'),
    validationUsers: vu === null || vu === undefined ? null : positiveInt(vu, 'validationUsers'),
  };
}
