/**
 * Module: plain composition of parameters and sub-modules. A model is a class whose
 * fields hold parameters (tensors made with `parameter()`), modules, or arrays of
 * them; `namedParameters()` finds them by walking the fields, so no registration or
 * Sequential container is needed. `state()` / `load()` move the values as named
 * Float32Arrays, so a saved model restores bit for bit.
 */
import { GnnrlError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { readAll } from '../tensor/create.js';
import { fmtShape } from '../tensor/shape.js';

export type ModuleState = Record<string, Float32Array>;

export abstract class Module {
  /** Parameters with dotted names from field paths, e.g. 'hidden.weight', 'layers.1.bias'. */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<unknown>();
    const walk = (value: unknown, name: string): void => {
      if (value === null || typeof value !== 'object' || seen.has(value)) return;
      seen.add(value);
      if (value instanceof Tensor) {
        if (value.isParameter) out.push([name, value]);
      } else if (value instanceof Module) {
        for (const [k, v] of Object.entries(value)) walk(v, name ? `${name}.${k}` : k);
      } else if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, `${name}.${i}`));
      }
    };
    walk(this, '');
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Every parameter's values, read back in one submit. */
  async state(): Promise<ModuleState> {
    const named = this.namedParameters();
    const values = await readAll(named.map(([, p]) => p));
    return Object.fromEntries(named.map(([name], i) => [name, values[i] as Float32Array]));
  }

  /** Overwrites every parameter from `state`; names and sizes must match exactly. */
  load(state: ModuleState): void {
    const named = this.namedParameters();
    const names = new Set(named.map(([n]) => n));
    const extra = Object.keys(state).filter((k) => !names.has(k));
    if (extra.length > 0) throw new GnnrlError('input', `load: state has entries this model lacks: ${extra.join(', ')}`, { arg: 'state' });
    for (const [name, p] of named) {
      const v = state[name];
      if (!v) throw new GnnrlError('input', `load: state lacks '${name}' (${fmtShape(p.shape)})`, { arg: 'state', field: name });
      if (!(v instanceof Float32Array) || v.length !== p.size) {
        throw new GnnrlError('input', `load: '${name}' is ${fmtShape(p.shape)} (${p.size} values) but the state holds ${v.length}`, { arg: 'state', field: name });
      }
    }
    for (const [name, p] of named) p.engine.write(p.data, state[name]);
  }

  /** Frees every parameter (and its gradient). */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}
