/**
 * Float64 [u | e_1 … e_H] states on the host from a WindowStateEncoder's (scaled) tables,
 * for tests that check agents against host references: padding (−1) reads the encoder's
 * zero row at index nItems.
 */
import type { WindowStateEncoder } from '../../src/rl/state/window-state.js';

export async function hostWindowStates(encoder: WindowStateEncoder): Promise<{ states: (users: Int32Array, history: Int32Array) => Float64Array; items: Float32Array }> {
  const [ut, it] = (await Promise.all([encoder.userTable.read(), encoder.itemTable.read()])) as Float32Array[];
  const { dim: D, historyLen: H, nItems } = encoder;
  const states = (users: Int32Array, history: Int32Array) => {
    const B = users.length;
    const inDim = (1 + H) * D;
    const x = new Float64Array(B * inDim);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < D; k++) x[b * inDim + k] = ut[users[b] * D + k];
      for (let j = 0; j < H; j++) {
        const i = history[b * H + j];
        const row = i < 0 ? nItems : i;
        for (let k = 0; k < D; k++) x[b * inDim + D + j * D + k] = it[row * D + k];
      }
    }
    return x;
  };
  return { states, items: it.slice(0, nItems * D) };
}
