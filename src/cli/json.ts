/** JSON the way every command writes it: non-finite numbers (NaN, ±Infinity) become null, not an invalid token. */
export function finiteNumbers(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/** `JSON.stringify(value, finiteNumbers, indent)`. */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, finiteNumbers, indent);
}
