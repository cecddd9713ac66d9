/**
 * A device-side copy of a model's parameters: the best epoch's weights, kept while
 * training goes on so `fit` can end on them (validation's best-epoch restore). The copies
 * are made once and overwritten in place after that, so saving every improved epoch
 * allocates nothing.
 */
import type { Engine } from '../engine.js';
import type { Tensor } from '../tensor/tensor.js';

export class ParamSnapshot {
  private copies: Tensor[] | null = null;

  constructor(private readonly engine: Engine) {}

  get saved(): boolean {
    return this.copies !== null;
  }

  /** Copies `params` (the same list, in the same order, on every call). */
  save(params: Tensor[]): void {
    if (!this.copies) {
      this.copies = params.map((p) => this.engine.keep(p.clone()));
      return;
    }
    params.forEach((p, i) => copyInto(this.copies![i], p));
  }

  /** Writes the saved copies back into `params`; false (and nothing written) when none was saved. */
  restore(params: Tensor[]): boolean {
    if (!this.copies) return false;
    params.forEach((p, i) => copyInto(p, this.copies![i]));
    return true;
  }

  dispose(): void {
    for (const t of this.copies ?? []) t.dispose();
    this.copies = null;
  }
}

/** dst ← src exactly (same size), on the device. */
function copyInto(dst: Tensor, src: Tensor): void {
  dst.fill(0).addInPlace(src);
}
