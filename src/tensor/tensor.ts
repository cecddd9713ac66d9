/**
 * The `Tensor` class with its fluent op methods (`t.add(b)`, `t.matmul(w)`, `t.sum()`,
 * `t.reshape(s)`, `t.backward()`), attached here in one place: the class lives in
 * core.ts, below the ops that build on it, and this module, above both, adds the
 * methods that call them. Import `Tensor` from here (or the package) to have them.
 */
import { Tensor } from './core.js';
import type { Shape } from './shape.js';
import { runBackward, accumulateIntoGrad } from './autograd.js';
import * as ew from './ops/elementwise.js';
import * as red from './ops/reduce.js';
import { matmul, type MatmulOptions } from './ops/matmul.js';
import { softmax, logSoftmax } from './ops/softmax.js';
import { slice } from './ops/gather.js';

export { Tensor };

declare module './core.js' {
  interface Tensor {
    /** A tensor sharing this storage with another shape of the same size (records autograd). */
    reshape(shape: Shape): Tensor;
    /** Back-propagates; leaf gradients accumulate into `.grad` until zeroed. */
    backward(grad?: Tensor): void;
    add(b: Tensor | number): Tensor;
    sub(b: Tensor | number): Tensor;
    mul(b: Tensor | number): Tensor;
    div(b: Tensor | number): Tensor;
    neg(): Tensor;
    matmul(b: Tensor, opts?: MatmulOptions): Tensor;
    relu(): Tensor;
    leakyRelu(alpha?: number): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    softplus(): Tensor;
    logSigmoid(): Tensor;
    square(): Tensor;
    sqrt(): Tensor;
    softmax(): Tensor;
    logSoftmax(): Tensor;
    sum(axis?: red.Axis): Tensor;
    mean(axis?: red.Axis): Tensor;
    slice(start: number, end: number): Tensor;
  }
}

/** The methods, defined with class syntax so that they are non-enumerable like the class's own. */
class TensorMethods {
  /** A tensor sharing this storage with another shape of the same size (records autograd). */
  reshape(this: Tensor, shape: Shape): Tensor {
    return ew.recordReshape(this.viewAs(shape), this);
  }
  /** Back-propagates; leaf gradients accumulate into `.grad` until zeroed. */
  backward(this: Tensor, grad?: Tensor): void {
    runBackward(this, grad, accumulateIntoGrad);
  }

  add(this: Tensor, b: Tensor | number): Tensor {
    return ew.add(this, b);
  }
  sub(this: Tensor, b: Tensor | number): Tensor {
    return ew.sub(this, b);
  }
  mul(this: Tensor, b: Tensor | number): Tensor {
    return ew.mul(this, b);
  }
  div(this: Tensor, b: Tensor | number): Tensor {
    return ew.div(this, b);
  }
  neg(this: Tensor): Tensor {
    return ew.mul(this, -1);
  }
  matmul(this: Tensor, b: Tensor, opts?: MatmulOptions): Tensor {
    return matmul(this, b, opts);
  }
  relu(this: Tensor): Tensor {
    return ew.relu(this);
  }
  leakyRelu(this: Tensor, alpha = 0.01): Tensor {
    return ew.leakyRelu(this, alpha);
  }
  sigmoid(this: Tensor): Tensor {
    return ew.sigmoid(this);
  }
  tanh(this: Tensor): Tensor {
    return ew.tanh(this);
  }
  exp(this: Tensor): Tensor {
    return ew.exp(this);
  }
  log(this: Tensor): Tensor {
    return ew.log(this);
  }
  softplus(this: Tensor): Tensor {
    return ew.softplus(this);
  }
  logSigmoid(this: Tensor): Tensor {
    return ew.logSigmoid(this);
  }
  square(this: Tensor): Tensor {
    return ew.square(this);
  }
  sqrt(this: Tensor): Tensor {
    return ew.sqrt(this);
  }
  softmax(this: Tensor): Tensor {
    return softmax(this);
  }
  logSoftmax(this: Tensor): Tensor {
    return logSoftmax(this);
  }
  sum(this: Tensor, axis?: red.Axis): Tensor {
    return red.sum(this, axis);
  }
  mean(this: Tensor, axis?: red.Axis): Tensor {
    return red.mean(this, axis);
  }
  slice(this: Tensor, start: number, end: number): Tensor {
    return slice(this, start, end);
  }
}

for (const name of Object.getOwnPropertyNames(TensorMethods.prototype)) {
  if (name !== 'constructor') Object.defineProperty(Tensor.prototype, name, Object.getOwnPropertyDescriptor(TensorMethods.prototype, name)!);
}
