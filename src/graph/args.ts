/**
 * Argument readers shared by the TypeScript graph builders. Their checks and messages
 * mirror native/napi_common.cc word for word, in the same order, so the native and TS
 * implementations reject bad input with the same GnnrlError.
 */
import { GnnrlError } from '../errors.js';
import type { Csr } from './types.js';

export const MAX_INDEX = 2147483647;

/** How a value's type is named in messages: constructor name for objects, else typeof. */
export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  const t = typeof v;
  if (t !== 'object') return t;
  const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' && name !== '' ? name : 'object';
}

/** A bad value as messages show it: strings quoted, numbers as JS prints them. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (typeof v === 'number') return String(v);
  return describe(v);
}

export function inputError(arg: string, expected: string, index?: number): GnnrlError {
  const where = index === undefined ? arg : `${arg}[${index}]`;
  return new GnnrlError('input', `${where}: expected ${expected}`, index === undefined ? { arg } : { arg, index });
}

export function limitError(message: string): GnnrlError {
  return new GnnrlError('limit', message);
}

export function optionsObject(v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null) throw inputError('options', `an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

export function objectArg(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null) throw inputError(name, `an object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

export function intArg(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !(v >= lo && v <= hi) || v !== Math.floor(v)) {
    throw inputError(name, `an integer in [${lo}, ${hi}], got ${showValue(v)}`);
  }
  return v;
}

export function boolOpt(o: Record<string, unknown>, key: string, def: boolean): boolean {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw inputError(key, `a boolean, got ${showValue(v)}`);
  return v;
}

export function choiceOpt<T extends string>(o: Record<string, unknown>, key: string, choices: readonly T[], def: T): T {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T;
  throw inputError(key, `one of ${choices.join(', ')}, got ${showValue(v)}`);
}

type TypedCtor = Int32ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor;

export function typedArg<C extends TypedCtor>(v: unknown, name: string, ctor: C, optional: false): InstanceType<C>;
export function typedArg<C extends TypedCtor>(
  v: unknown,
  name: string,
  ctor: C,
  optional: true,
): InstanceType<C> | undefined;
export function typedArg<C extends TypedCtor>(
  v: unknown,
  name: string,
  ctor: C,
  optional: boolean,
): InstanceType<C> | undefined {
  if (optional && (v === undefined || v === null)) return undefined;
  if (!(v instanceof ctor)) throw inputError(name, `an ${ctor.name}, got ${describe(v)}`);
  return v as InstanceType<C>;
}

/** Worker count option; validated like the native one, ignored by the TS builders. */
export function threadsOpt(o: Record<string, unknown>): number {
  const v = o.threads;
  if (v === undefined || v === 0) return 0;
  return intArg(v, 'threads', 0, 256);
}

/** Reads and checks a Csr argument exactly as native csrArg + validateCsr do. */
export function csrArg(v: unknown, name: string): Csr {
  if (typeof v !== 'object' || v === null) throw inputError(name, `a Csr object, got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  const nRows = intArg(o.nRows, `${name}.nRows`, 0, MAX_INDEX);
  const nCols = intArg(o.nCols, `${name}.nCols`, 0, MAX_INDEX);
  const rowPtr = typedArg(o.rowPtr, `${name}.rowPtr`, Int32Array, false);
  const colIdx = typedArg(o.colIdx, `${name}.colIdx`, Int32Array, false);
  const values = typedArg(o.values, `${name}.values`, Float32Array, false);
  if (rowPtr.length !== nRows + 1) {
    throw inputError(`${name}.rowPtr`, `length ${nRows + 1} (nRows + 1), got ${rowPtr.length}`);
  }
  if (values.length !== colIdx.length) {
    throw inputError(`${name}.values`, `length ${colIdx.length} (colIdx.length), got ${values.length}`);
  }
  const nnz = colIdx.length;
  if (rowPtr[0] !== 0) throw inputError(`${name}.rowPtr`, `0, got ${rowPtr[0]}`, 0);
  for (let r = 0; r < nRows; r++) {
    const a = rowPtr[r];
    const b = rowPtr[r + 1];
    if (b < a || b > nnz) {
      throw inputError(`${name}.rowPtr`, `a value in [rowPtr[${r}] = ${a}, nnz = ${nnz}], got ${b}`, r + 1);
    }
    for (let j = a; j < b; j++) {
      const c = colIdx[j];
      if (c < 0 || c >= nCols) throw inputError(`${name}.colIdx`, `a column in [0, ${nCols}), got ${c}`, j);
      if (j > a && c <= colIdx[j - 1]) {
        throw inputError(
          `${name}.colIdx`,
          `columns strictly ascending within row ${r}, got ${c} after ${colIdx[j - 1]}`,
          j,
        );
      }
      if (!Number.isFinite(values[j])) throw inputError(`${name}.values`, `a finite number, got ${values[j]}`, j);
    }
  }
  if (rowPtr[nRows] !== nnz) {
    throw inputError(`${name}.rowPtr`, `${nnz} (the length of colIdx), got ${rowPtr[nRows]}`, nRows);
  }
  return { nRows, nCols, rowPtr, colIdx, values };
}
