/**
 * A stack of graph layers applied in order: what GCN, GraphSAGE and GAT keep as their
 * encoder. The field is named `convs`, so parameters are named 'convs.0.weight', … in
 * `state()` and checkpoints.
 */
import { Module } from './module.js';

export class LayerStack<L extends Module> extends Module {
  constructor(readonly convs: L[]) {
    super();
  }
}
