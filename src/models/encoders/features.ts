/**
 * The encoders' input layer: the layer-0 ("ego") embedding of every node, users first
 * then items, from learned id embeddings, from node features through a linear
 * projection, or from both added. Graph encoders differ only in what they do after it.
 */
import { GnnrlError } from '../../errors.js';
import type { Engine } from '../../engine.js';
import type { FeatureTable } from '../../data/features-types.js';
import type { Rng } from '../../util/rng.js';
import { Tensor } from '../../tensor/tensor.js';
import { parameter, randNormal } from '../../tensor/create.js';
import { add } from '../../tensor/ops/elementwise.js';
import { Linear } from '../../nn/linear.js';
import { Module } from '../../nn/module.js';
import { concatRows } from './rows.js';

/** Where the ego embeddings come from: learned per-node ids, projected features, or their sum. */
export type EncoderInput = 'id' | 'features' | 'both';

/** Accepted values of the `input` option. */
export const ENCODER_INPUTS: readonly EncoderInput[] = ['id', 'features', 'both'];

/** What the input layer is built from. */
export interface InputLayerSpec {
  nUsers: number;
  nItems: number;
  dim: number;
  mode: EncoderInput;
  /** Standard deviation of the id embeddings' normal initialisation. */
  initStd: number;
  rng: Rng;
  userFeatures?: FeatureTable;
  itemFeatures?: FeatureTable;
}

function checkTable(t: FeatureTable, rows: number, side: string): void {
  if (t.nRows !== rows || !(t.data instanceof Float32Array) || t.data.length !== t.nRows * t.dim || !(t.dim >= 1)) {
    throw new GnnrlError('input', `encoder input: ${side}Features: expected ${rows} rows × dim (dim ≥ 1) in a Float32Array of rows·dim values, got ${t.nRows} × ${t.dim} with ${t.data?.length} values`, {
      arg: `${side}Features`,
    });
  }
}

/** The ego embeddings of all nodes; parameters are the id tables and the projections. */
export class InputLayer extends Module {
  /** One table for every node when neither side uses features (the common, copy-free case). */
  readonly embedding: Tensor | null = null;
  readonly userEmbedding: Tensor | null = null;
  readonly itemEmbedding: Tensor | null = null;
  readonly userProjection: Linear | null = null;
  readonly itemProjection: Linear | null = null;
  /** The feature matrices on the device (inputs, not parameters). */
  private readonly userX: Tensor | null = null;
  private readonly itemX: Tensor | null = null;
  readonly nodes: number;

  constructor(engine: Engine, spec: InputLayerSpec) {
    super();
    const { nUsers, nItems, dim, mode, rng } = spec;
    this.nodes = nUsers + nItems;
    const uf = mode === 'id' ? undefined : spec.userFeatures;
    const itf = mode === 'id' ? undefined : spec.itemFeatures;
    if (mode !== 'id' && !uf && !itf) {
      throw new GnnrlError('input', `encoder input '${mode}' needs node features, but the training log has neither userFeatures nor itemFeatures; use input: 'id'`, { arg: 'input' });
    }
    if (uf) checkTable(uf, nUsers, 'user');
    if (itf) checkTable(itf, nItems, 'item');
    // A side without features keeps id embeddings even under 'features': its nodes
    // would otherwise have no input at all.
    const userIds = mode !== 'features' || !uf;
    const itemIds = mode !== 'features' || !itf;
    const table = (rows: number) => parameter(randNormal(engine, [rows, dim], { std: spec.initStd, rng }));
    if (!uf && !itf) {
      this.embedding = table(nUsers + nItems);
      return;
    }
    if (userIds) this.userEmbedding = table(nUsers);
    if (itemIds) this.itemEmbedding = table(nItems);
    if (uf) {
      this.userProjection = new Linear(engine, uf.dim, dim, { rng });
      this.userX = engine.keep(Tensor.fromArray(engine, uf.data, [nUsers, uf.dim]));
    }
    if (itf) {
      this.itemProjection = new Linear(engine, itf.dim, dim, { rng });
      this.itemX = engine.keep(Tensor.fromArray(engine, itf.data, [nItems, itf.dim]));
    }
  }

  /** The ego embeddings [nUsers + nItems, dim], users first (on the tape). */
  forward(): Tensor {
    if (this.embedding) return this.embedding;
    const part = (id: Tensor | null, proj: Linear | null, x: Tensor | null): Tensor => {
      const p = proj && x ? proj.forward(x) : null;
      return id && p ? add(id, p) : (id ?? p)!;
    };
    return concatRows(part(this.userEmbedding, this.userProjection, this.userX), part(this.itemEmbedding, this.itemProjection, this.itemX));
  }

  override dispose(): void {
    super.dispose();
    this.userX?.dispose();
    this.itemX?.dispose();
  }
}
