import { describe, expect, it } from 'vitest';
import { Scaler, concatFeatures, fromExternal, multiHot, oneHot, splitByUserTime, timestampScaler } from '../../src/data/index.js';

describe('encoders', () => {
  it('one-hot with a zero row for missing codes', () => {
    const t = oneHot(Int32Array.from([1, -1, 0]), ['F', 'M'], 'gender');
    expect(t).toEqual({ nRows: 3, dim: 2, data: Float32Array.from([0, 1, 0, 0, 1, 0]), names: ['gender=F', 'gender=M'] });
    expect(() => oneHot(Int32Array.from([2]), ['F', 'M'], 'g')).toThrow('oneHot: codes[0] = 2 is outside [0, 2)');
  });

  it('multi-hot', () => {
    const t = multiHot(Int32Array.from([0, 2, 2, 3]), Int32Array.from([0, 2, 1]), ['a', 'b', 'c'], 'genre');
    expect(Array.from(t.data)).toEqual([1, 0, 1, 0, 0, 0, 0, 1, 0]);
    expect(t.nRows).toBe(3);
  });

  it('scalers fit on train rows and apply to any, with NaN as missing', () => {
    const v = [10, 20, NaN, 40, 100];
    const mm = new Scaler('minmax').fit(v, [0, 1, 3]);
    expect(Array.from(mm.transform(v))).toEqual([0, 1 / 3, 0, 1, 3].map(Math.fround));
    const z = new Scaler('zscore').fit([1, 2, 3, 4]);
    const sd = Math.sqrt(1.25);
    expect(Array.from(z.transform([2.5, 1]))).toEqual([0, -1.5 / sd].map(Math.fround));
    expect(Array.from(Scaler.fromJSON(JSON.parse(JSON.stringify(z))).transform([1, 4]))).toEqual(Array.from(z.transform([1, 4])));
    expect(Array.from(new Scaler('minmax').fit([5, 5]).transform([5, 7]))).toEqual([0, 0]);
    expect(() => new Scaler('zscore').transform([1])).toThrow('call fit() first');
  });

  it('timestamp scaler fit on the train split only', () => {
    const x = fromExternal({ user: [1, 1, 1, 1, 1], item: [1, 2, 3, 4, 5], ts: [100, 200, 300, 400, 600] });
    const { train, test } = splitByUserTime(x, 0.8);
    const s = timestampScaler(train);
    expect(Array.from(s.transform(train.ts!))).toEqual([0, 1 / 3, 2 / 3, 1].map(Math.fround));
    expect(Array.from(s.transform(test.ts!))).toEqual([Math.fround(5 / 3)]);
  });

  it('concatenates tables column-wise', () => {
    const a = oneHot(Int32Array.from([0, 1]), ['x', 'y'], 'a');
    const b = { nRows: 2, dim: 1, data: Float32Array.from([7, 8]), names: ['b'] };
    const c = concatFeatures(a, b);
    expect(c).toEqual({ nRows: 2, dim: 3, data: Float32Array.from([1, 0, 7, 0, 1, 8]), names: ['a=x', 'a=y', 'b'] });
    expect(() => concatFeatures(a, { ...b, nRows: 3 })).toThrow('tables[1].nRows: expected 2, got 3');
  });
});
