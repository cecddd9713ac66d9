/**
 * Reverse-mode autograd. Every op whose inputs require gradients records a node on
 * its output (the tape is the graph of these nodes, in creation order); `backward`
 * walks it in reverse topological order, summing gradients where a tensor feeds
 * several ops, and hands leaf gradients to a sink: by default they accumulate into
 * `leaf.grad` until zeroed, `grad()` collects them instead.
 */
import { GnnrlError } from '../errors.js';
import type { GradNode, Tensor } from './core.js';
import { fmtShape, sameShape } from './shape.js';

export type { GradNode };

let disabled = 0;

export function isGradEnabled(): boolean {
  return disabled === 0;
}

/**
 * Runs `fn` without recording: for inference, target networks and optimiser updates.
 * Synchronous only, since an async body would leave recording off for unrelated work.
 */
export function noGrad<T>(fn: () => T): T {
  disabled++;
  try {
    const r = fn();
    if (r instanceof Promise) throw new GnnrlError('input', 'noGrad(fn): fn returned a Promise; call noGrad around the synchronous part only');
    return r;
  } finally {
    disabled--;
  }
}

/** Marks `out` as produced by `op` from `inputs` when any input needs a gradient. */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: (g: Tensor) => (Tensor | null)[]): Tensor {
  out.op ??= op;
  if (disabled === 0 && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative post-order DFS: deep graphs (RNN unrolls) must not overflow the stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

export type LeafSink = (leaf: Tensor, g: Tensor) => void;

/**
 * Back-propagates from `root` with seed gradient `seed` (ones for a one-element root).
 * Intermediate gradients are ordinary tracked tensors: inside `engine.scope` they are
 * freed with everything else.
 */
export function runBackward(root: Tensor, seed: Tensor | undefined, sink: LeafSink): void {
  if (!root.requiresGrad) {
    throw new GnnrlError('state', `backward: this ${fmtShape(root.shape)} tensor does not require a gradient (no parameter with requiresGrad reaches it, or it was made under noGrad)`);
  }
  if (!seed && root.size !== 1) {
    throw new GnnrlError('input', `backward: the root is ${fmtShape(root.shape)}, not a single value; pass its gradient explicitly`, { arg: 'grad' });
  }
  if (seed && !sameShape(seed.shape, root.shape)) {
    throw new GnnrlError('input', `backward: grad is ${fmtShape(seed.shape)} but the root is ${fmtShape(root.shape)}`, { arg: 'grad' });
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGradInternal(() => {
    grads.set(root, seed ?? root.onesLike());
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        sink(t, g);
        continue;
      }
      const gs = t.node.backward(g);
      t.node.inputs.forEach((input, i) => {
        const gi = gs[i];
        if (!gi || !input.requiresGrad) return;
        if (!sameShape(gi.shape, input.shape)) {
          throw new GnnrlError('state', `backward of '${t.node!.op}': gradient for input ${i} is ${fmtShape(gi.shape)} but the input is ${fmtShape(input.shape)}`);
        }
        const prev = grads.get(input);
        grads.set(input, prev ? prev.add(gi) : gi);
      });
    }
  });
}

function noGradInternal(fn: () => void): void {
  disabled++;
  try {
    fn();
  } finally {
    disabled--;
  }
}

/** Accumulates into `leaf.grad` (kept across scopes until zeroed). */
export const accumulateIntoGrad: LeafSink = (leaf, g) => {
  if (leaf.grad) leaf.grad.addInPlace(g);
  else leaf.grad = leaf.engine.keep(g.clone());
};

/**
 * Gradients of the one-element result of `fn` with respect to `params`, returned
 * instead of accumulated (`.grad` is left alone). A parameter the result does not
 * depend on gets zeros.
 */
export function grad(fn: () => Tensor, params: Tensor[]): Tensor[] {
  const loss = fn();
  const found = new Map<Tensor, Tensor>();
  const wanted = new Set(params);
  runBackward(loss, undefined, (leaf, g) => {
    if (wanted.has(leaf)) found.set(leaf, g);
  });
  return params.map((p) => found.get(p) ?? p.zerosLike());
}
