/**
 * The one error class of gnnrl. Every failure the engine reports carries a `code`
 * saying which layer refused, and a message that names what, where and what to do.
 */
export type GnnrlErrorCode =
  | 'input' // a caller's argument is wrong (shape, range, type)
  | 'format' // a file or stream does not parse
  | 'gpu' // the WebGPU device refused or failed an operation
  | 'shader' // a WGSL module failed to compile or validate
  | 'native' // the C++ addon failed or could not load
  | 'limit' // a device or memory limit would be exceeded
  | 'state'; // the object is disposed, or used in the wrong order

export interface GnnrlErrorDetails {
  /** File the error refers to, for `format` errors. */
  file?: string;
  /** 1-based line number in `file`. */
  line?: number;
  /** Column or field name. */
  field?: string;
  /** Argument name, for `input` errors. */
  arg?: string;
  /** Index into a typed array argument. */
  index?: number;
  /** Kernel or shader name, for `gpu` and `shader` errors. */
  kernel?: string;
  cause?: unknown;
}

export class GnnrlError extends Error {
  readonly code: GnnrlErrorCode;
  readonly details: GnnrlErrorDetails;

  constructor(code: GnnrlErrorCode, message: string, details: GnnrlErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'GnnrlError';
    this.code = code;
    this.details = details;
  }
}

/** Throws an `input` error naming the argument when `ok` is false. */
export function check(ok: unknown, arg: string, expected: string, index?: number): asserts ok {
  if (!ok) {
    const where = index === undefined ? arg : `${arg}[${index}]`;
    throw new GnnrlError('input', `${where}: expected ${expected}`, { arg, index });
  }
}
