import { describe, expect, test } from 'vitest';
import { ProgressReporter } from '../../src/cli/progress.js';

function stream(isTTY: boolean, columns?: number) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns, write: (s: string) => chunks.push(s) };
}

describe('progress reporter', () => {
  test('on a TTY: one line per epoch, rewritten in place, finished with the validation metrics', () => {
    let t = 0;
    const s = stream(true);
    const p = new ProgressReporter(s, { now: () => t, redrawMs: 0 });
    p.startModel('LightGCN', 10);
    for (const done of [0, 500, 1000]) {
      t += 500;
      p.batch({ epoch: 1, done, total: 1000, loss: 0.69 });
    }
    p.epoch({ epoch: 1, loss: 0.68, seconds: 1, samplesPerSecond: 1000, validation: { 'ndcg@20': 0.1234 }, best: true });
    const text = s.chunks.join('');
    const redraws = s.chunks.filter((c) => c.startsWith('\r\x1b[2K') && c.length > 5);
    expect(redraws).toHaveLength(3);
    expect(redraws[1]).toMatch(/^\r\x1b\[2KLightGCN {2}epoch {2}1\/10 \[=========> {10}\] {2}50% {2}loss 0\.6900 {2}1\.0k ex\/s {2}ETA 9\.50s$/);
    expect(redraws[2]).toContain('[====================] 100%');
    expect(text.endsWith('LightGCN  epoch  1/10  loss 0.6800  1.0k ex/s  1.00s  val ndcg@20 0.1234 *  ETA 9.00s\n')).toBe(true);
  });

  test('elsewhere: only finished epoch lines, no carriage returns; quiet writes nothing', () => {
    const s = stream(false);
    const p = new ProgressReporter(s);
    p.startModel('SVD', null);
    p.batch({ epoch: 1, done: 10, total: 100, loss: 1 });
    p.epoch({ epoch: 1, loss: 0.9, seconds: 0.5, samplesPerSecond: 2e6 });
    p.message('done');
    expect(s.chunks.join('')).toBe('SVD  epoch 1  loss 0.9000  2.00M ex/s  0.50s\ndone\n');
    const q = stream(true);
    const quiet = new ProgressReporter(q, { quiet: true });
    quiet.startModel('SVD', 3);
    quiet.batch({ epoch: 1, done: 1, total: 2, loss: 1 });
    quiet.epoch({ epoch: 1, loss: 1, seconds: 1, samplesPerSecond: 1 });
    quiet.message('x');
    expect(q.chunks).toEqual([]);
  });

  test('long lines are cut to the terminal width; redraws are throttled', () => {
    let t = 0;
    const s = stream(true, 40);
    const p = new ProgressReporter(s, { now: () => t, redrawMs: 100 });
    p.startModel('A very long model name indeed', 5);
    p.batch({ epoch: 1, done: 0, total: 100, loss: 1 });
    t = 50;
    p.batch({ epoch: 1, done: 50, total: 100, loss: 1 }); // within 100 ms: skipped
    t = 200;
    p.batch({ epoch: 1, done: 60, total: 100, loss: 1 });
    const draws = s.chunks.filter((c) => c.startsWith('\r\x1b[2K'));
    expect(draws).toHaveLength(2);
    for (const d of draws) expect(d.length - 5).toBeLessThanOrEqual(39);
  });
});
