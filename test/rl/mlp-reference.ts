/**
 * Float64 reference of the actor–critic core's MLPs, for tests: ReLU between layers, the
 * last layer linear, weights read from a state's arrays '<prefix>.layers.l.weight|bias'
 * (weight [in, out] row-major) over R rows of x.
 */
export function mlp64(p: Record<string, ArrayLike<number>>, prefix: string, x: Float64Array, R: number): Float64Array {
  let h = x;
  let width = x.length / R;
  const n = Object.keys(p).filter((k) => k.startsWith(`${prefix}.layers.`) && k.endsWith('.weight')).length;
  for (let l = 0; l < n; l++) {
    const W = p[`${prefix}.layers.${l}.weight`];
    const b = p[`${prefix}.layers.${l}.bias`];
    const out = b.length;
    const next = new Float64Array(R * out);
    for (let r = 0; r < R; r++) {
      for (let o = 0; o < out; o++) {
        let s = b[o];
        for (let i = 0; i < width; i++) s += h[r * width + i] * W[i * out + o];
        next[r * out + o] = l + 1 < n ? Math.max(0, s) : s;
      }
    }
    h = next;
    width = out;
  }
  return h;
}

/** DQN's φ(s) = u + MLP(s) in float64 from a state() dump: u is the first `dim` columns of x. */
export function dqnPhi64(p: Record<string, ArrayLike<number>>, prefix: string, x: Float64Array, R: number, dim: number): Float64Array {
  const h = mlp64(p, prefix, x, R);
  const inDim = x.length / R;
  const phi = new Float64Array(R * dim);
  for (let r = 0; r < R; r++) for (let k = 0; k < dim; k++) phi[r * dim + k] = x[r * inDim + k] + h[r * dim + k];
  return phi;
}
