/**
 * The two pooled forms of a history window (WindowStateEncoder's `pool`), as functions of
 * the tables so a gradient check can differentiate them directly. Windows are B × H item
 * indices, −1 padded on the left; the item table has a zero row at index nItems that
 * padding reads.
 */
import { selfAttention } from '../../tensor/ops/attention.js';
import { mul } from '../../tensor/ops/elementwise.js';
import { concat, gather } from '../../tensor/ops/gather.js';
import { matmul } from '../../tensor/ops/matmul.js';
import { Tensor } from '../../tensor/tensor.js';

/**
 * p_b = Σ_j e_j / n_b over slot b's n_b real window items (0 when the window is empty).
 * `rows` are the window's item-table rows (padding mapped to the table's pad row). Each
 * gathered row is weighted 1/n_b, or 0 for padding, so the pad row neither enters the
 * mean nor gets a gradient (fine-tuned, it would otherwise drift from zero and bias every
 * short window's mean); the weighted rows are summed by one matmul of the [B, H·d] window
 * with H stacked d × d identities.
 */
export function meanPool(itemTable: Tensor, rows: Int32Array, history: Int32Array, B: number, H: number): Tensor {
  const d = itemTable.shape[1];
  const weight = new Float32Array(B * H);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let j = 0; j < H; j++) if (history[b * H + j] >= 0) n++;
    for (let j = 0; j < H; j++) if (history[b * H + j] >= 0) weight[b * H + j] = 1 / n;
  }
  const engine = itemTable.engine;
  const w = mul(gather(itemTable, rows), Tensor.fromArray(engine, weight, [B * H, 1])).reshape([B, H * d]);
  const stack = new Float32Array(H * d * d);
  for (let j = 0; j < H; j++) for (let c = 0; c < d; c++) stack[(j * d + c) * d + c] = 1;
  return matmul(w, Tensor.fromArray(engine, stack, [H * d, d]));
}

/**
 * p_b = Σ_j softmax_j(u_b·x_j / √d) x_j over x = (u_b, e_1 … e_n): row 0 of the sequence
 * self-attention of (u_b, window items) with Q = K = V = x. The real items are moved to
 * the front (the kernel masks positions past each sequence's length, and the window is
 * left-padded), and the pool weights are one-hot on position 0, so the kernel's pooled
 * output is the user's own attention row. u: [B, d].
 */
export function attentionPool(u: Tensor, itemTable: Tensor, rows: Int32Array, history: Int32Array, B: number, H: number): Tensor {
  const d = itemTable.shape[1];
  const L = H + 1;
  // The real items first; positions past each length are masked by the kernel, so they
  // keep whatever valid row the copy left there.
  const packed = rows.slice();
  const lengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let j = 0; j < H; j++) if (history[b * H + j] >= 0) packed[b * H + n++] = rows[b * H + j];
    lengths[b] = 1 + n;
  }
  const x = concat([u, gather(itemTable, packed).reshape([B, H * d])]).reshape([B * L, d]);
  const weights = new Float32Array(L);
  weights[0] = 1;
  return selfAttention(x, x, x, { batch: B, len: L, d, dv: d, lengths, weights });
}
