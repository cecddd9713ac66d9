/** Row softmax / log-softmax along the last axis; backward from the saved output. */
import { softmaxBackwardKernel, softmaxKernel } from '../../kernels/softmax.js';
import { record } from '../autograd.js';
import { Tensor } from '../core.js';

function rowSoftmax(x: Tensor, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  const [R, C] = [x.rows, x.cols];
  const xs = x.f32(name);
  const out = Tensor.empty(x.engine, x.shape);
  softmaxKernel(x.engine, xs, R, C, log, out.f32(name));
  return record(out, name, [x], (g) => {
    const gx = Tensor.empty(x.engine, x.shape);
    softmaxBackwardKernel(x.engine, out.f32(name), g.f32(name, 'grad'), R, C, log, gx.f32(name));
    return [gx];
  });
}

export const softmax = (x: Tensor): Tensor => rowSoftmax(x, false);
export const logSoftmax = (x: Tensor): Tensor => rowSoftmax(x, true);
