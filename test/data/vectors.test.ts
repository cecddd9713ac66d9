import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GnnrlError } from '../../src/errors.js';
import { alignVectors, readVectors, writeNpy, type VectorTable } from '../../src/data/index.js';
import { fixture, tempDir } from './helpers.js';

const dir = tempDir();

// ---- fixtures built by hand, independently of the code under test ----

/** A .npy file: magic, version, header length (u16 for v1, u32 for v2/v3), dict padded to `align`, data. */
function npy(dict: string, data: Uint8Array, version = 1, align = 64): Uint8Array {
  const lenBytes = version === 1 ? 2 : 4;
  const pre = 8 + lenBytes;
  let h = dict;
  while ((pre + h.length + 1) % align !== 0) h += ' ';
  h += '\n';
  const head = Buffer.alloc(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) head.writeUInt16LE(h.length, 8);
  else head.writeUInt32LE(h.length, 8);
  return Buffer.concat([head, Buffer.from(h, version === 3 ? 'utf8' : 'latin1'), data]);
}

const f32le = (xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b;
};
const f32be = (xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatBE(x, i * 4));
  return b;
};
const f64le = (xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 8);
  xs.forEach((x, i) => b.writeDoubleLE(x, i * 8));
  return b;
};
const u16le = (xs: number[]): Buffer => {
  const b = Buffer.alloc(xs.length * 2);
  xs.forEach((x, i) => b.writeUInt16LE(x, i * 2));
  return b;
};

/** A .safetensors file: u64 LE header length, JSON header (space-padded to 8), data. */
function safetensors(header: Record<string, unknown>, data: Uint8Array, pad = 8): Uint8Array {
  let json = JSON.stringify(header);
  while (json.length % pad !== 0) json += ' ';
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([n, Buffer.from(json), data]);
}

const M = [1.5, -2.25, 3.1415927, 1e-30, 0, -0, 1e30, 7.000001]; // 2 × 4, exact float32 values after fround
const M32 = M.map(Math.fround);
const dict24 = (descr: string): string => `{'descr': '${descr}', 'fortran_order': False, 'shape': (2, 4), }`;

async function rejects(p: Promise<unknown>, code: string, ...patterns: (string | RegExp)[]): Promise<GnnrlError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GnnrlError);
  const e = err as GnnrlError;
  expect(e.code).toBe(code);
  for (const pat of patterns) expect(e.message).toMatch(pat);
  return e;
}

function throws(f: () => unknown, code: string, ...patterns: (string | RegExp)[]): GnnrlError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GnnrlError);
  const e = err as GnnrlError;
  expect(e.code).toBe(code);
  for (const pat of patterns) expect(e.message).toMatch(pat);
  return e;
}

const table = (ids: string[] | null, rows: number[][]): VectorTable => ({
  file: '/x/emb.npy',
  dim: rows[0].length,
  ids,
  vectors: Float32Array.from(rows.flat()),
  format: 'npy',
});

describe('readVectors: .npy', () => {
  it('reads <f4 (v1.0) exactly, with no ids', async () => {
    const t = await readVectors(fixture(dir, 'a.npy', npy(dict24('<f4'), f32le(M))));
    expect(t.format).toBe('npy');
    expect(t.dim).toBe(4);
    expect(t.ids).toBeNull();
    expect(Array.from(t.vectors)).toEqual(M32);
  });

  it('converts <f8 (v2.0), <f2 (v3.0) and big-endian >f4', async () => {
    const d = await readVectors(fixture(dir, 'd.npy', npy(dict24('<f8'), f64le(M), 2)));
    expect(Array.from(d.vectors)).toEqual(M32);
    // 1, -2, 65504 (max half), 2^-24 (smallest subnormal), 0.333251953125, -0, 0.5, 1024
    const halves = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000, 0x3800, 0x6400];
    const h = await readVectors(fixture(dir, 'h.npy', npy(dict24('<f2'), u16le(halves), 3)));
    expect(Array.from(h.vectors)).toEqual([1, -2, 65504, 2 ** -24, 0.333251953125, -0, 0.5, 1024]);
    const b = await readVectors(fixture(dir, 'be.npy', npy(dict24('>f4'), f32be(M))));
    expect(Array.from(b.vectors)).toEqual(M32);
  });

  it('parses header dicts in other spellings and reads data at an unaligned offset', async () => {
    // double quotes, key order, no trailing comma, Python 2 longs; header padded so data starts at byte 13
    const dict = `{"shape": (2L,4L),"fortran_order":False,"descr":"<f4"}`;
    const bytes = npy(dict, f32le(M), 1, 1);
    expect((10 + dict.length + 1) % 4).not.toBe(0);
    const t = await readVectors(fixture(dir, 'odd.npy', bytes));
    expect(t.dim).toBe(4);
    expect(Array.from(t.vectors)).toEqual(M32);
    const f8 = await readVectors(fixture(dir, 'odd8.npy', npy(dict.replace('<f4', '<f8'), f64le(M), 1, 1)));
    expect(Array.from(f8.vectors)).toEqual(M32);
  });

  it('refuses a truncated file, naming expected and actual byte counts', async () => {
    const full = npy(dict24('<f4'), f32le(M));
    const f = fixture(dir, 'trunc.npy', full.subarray(0, full.length - 3));
    const e = await rejects(readVectors(f), 'format', /^trunc\.npy: truncated/, new RegExp(`needs ${full.length} bytes.*has ${full.length - 3}`));
    expect(e.details.file).toBe(f);
    await rejects(readVectors(fixture(dir, 'long.npy', Buffer.concat([full, Buffer.alloc(4)]))), 'format', /long\.npy: trailing bytes/);
  });

  it('refuses fortran order, 1-D and 3-D shapes, integer dtypes and a bad magic', async () => {
    const fort = `{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4), }`;
    await rejects(readVectors(fixture(dir, 'fort.npy', npy(fort, f32le(M)))), 'format', /^fort\.npy: fortran_order is True/);
    const three = `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2), }`;
    const e3 = await rejects(readVectors(fixture(dir, 'cube.npy', npy(three, f32le(M)))), 'format', /^cube\.npy: shape \(2, 2, 2\) is 3-D/);
    expect(e3.details.field).toBe('shape');
    const one = `{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }`;
    await rejects(readVectors(fixture(dir, 'flat.npy', npy(one, f32le(M)))), 'format', /^flat\.npy: shape \(8,\) is 1-D/);
    await rejects(readVectors(fixture(dir, 'int.npy', npy(dict24('<i4'), f32le(M)))), 'format', /^int\.npy: dtype '<i4' is not supported/);
    await rejects(readVectors(fixture(dir, 'junk.npy', Buffer.from('not numpy at all'))), 'format', /^junk\.npy: not a \.npy file/);
    await rejects(readVectors(fixture(dir, 'hdr.npy', npy(`{'descr': '<f4', 'shape': (2, 4)`, f32le(M)))), 'format', /^hdr\.npy: header is not a Python dict literal/);
  });

  it('refuses non-finite values, naming row and column', async () => {
    const xs = [...M];
    xs[6] = NaN;
    await rejects(readVectors(fixture(dir, 'nan.npy', npy(dict24('<f4'), f32le(xs)))), 'format', /^nan\.npy: row 1, column 2: value NaN is not finite/);
  });

  it('takes ids from an ids file and refuses a count that differs', async () => {
    const f = fixture(dir, 'withids.npy', npy(dict24('<f4'), f32le(M)));
    const t = await readVectors(f, { idsFile: fixture(dir, 'ids.txt', 'b\r\na\n\n') });
    expect(t.ids).toEqual(['b', 'a']);
    await rejects(readVectors(f, { idsFile: fixture(dir, 'ids3.txt', 'a\nb\nc\n') }), 'input', /^withids\.npy: has 2 rows but ids file ids3\.txt has 3 ids/);
    await rejects(readVectors(f, { idsFile: fixture(dir, 'idsdup.txt', 'a\na\n') }), 'input', /duplicated id: "a" at line 1 and line 2/);
  });
});

describe('readVectors: .safetensors', () => {
  it('reads F32 exactly, with ids from __metadata__', async () => {
    const h = { __metadata__: { ids: JSON.stringify(['x', 'y']), model: 'clip' }, emb: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 32] } };
    const t = await readVectors(fixture(dir, 'a.safetensors', safetensors(h, f32le(M))));
    expect(t.format).toBe('safetensors');
    expect(t.dim).toBe(4);
    expect(t.ids).toEqual(['x', 'y']);
    expect(Array.from(t.vectors)).toEqual(M32);
  });

  it('converts F64, F16 and BF16, picks a named tensor, and reads unaligned data', async () => {
    // data area: 4 pad bytes, then F16 [2,2] (8 bytes), BF16 [2,2] (8 bytes), F64 [2,4] (64 bytes)
    const data = Buffer.concat([Buffer.alloc(4), u16le([0x3c00, 0xc000, 0x3555, 0x7bff]), u16le([0x3f80, 0xc040, 0x3e80, 0x4049]), f64le(M)]);
    const h = {
      half: { dtype: 'F16', shape: [2, 2], data_offsets: [4, 12] },
      brain: { dtype: 'BF16', shape: [2, 2], data_offsets: [12, 20] },
      dbl: { dtype: 'F64', shape: [2, 4], data_offsets: [20, 84] },
    };
    const f = fixture(dir, 'multi.safetensors', safetensors(h, data, 1));
    expect(Array.from((await readVectors(f, { tensor: 'half' })).vectors)).toEqual([1, -2, 0.333251953125, 65504]);
    expect(Array.from((await readVectors(f, { tensor: 'brain' })).vectors)).toEqual([1, -3, 0.25, 3.140625]);
    const d = await readVectors(f, { tensor: 'dbl' });
    expect(d.ids).toBeNull();
    expect(Array.from(d.vectors)).toEqual(M32);
    await rejects(readVectors(f), 'input', /^multi\.safetensors: holds 3 tensors \("half", "brain", "dbl"\); name one/);
    await rejects(readVectors(f, { tensor: 'nope' }), 'input', /^multi\.safetensors: no tensor "nope"; the file holds "half", "brain", "dbl"/);
  });

  it('refuses offsets outside the file or not matching the shape, and 1-D tensors', async () => {
    const out = { t: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 40] } };
    await rejects(readVectors(fixture(dir, 'out.safetensors', safetensors(out, f32le(M)))), 'format', /^out\.safetensors: tensor "t": data_offsets \[0, 40\] do not lie inside the data area \(32 bytes/);
    const short = { t: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 28] } };
    await rejects(readVectors(fixture(dir, 'short.safetensors', safetensors(short, f32le(M)))), 'format', /tensor "t": data_offsets \[0, 28\] span 28 bytes but shape \[2,4\] of F32 needs 32/);
    const flat = { t: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } };
    await rejects(readVectors(fixture(dir, 'flat.safetensors', safetensors(flat, f32le(M)))), 'format', /^flat\.safetensors: tensor "t": shape \[8\] is 1-D/);
    const i8 = { t: { dtype: 'I8', shape: [2, 4], data_offsets: [0, 8] } };
    await rejects(readVectors(fixture(dir, 'i8.safetensors', safetensors(i8, Buffer.alloc(8)))), 'format', /dtype "I8" is not supported/);
    const big = Buffer.alloc(16);
    big.writeBigUInt64LE(1000n);
    await rejects(readVectors(fixture(dir, 'hlen.safetensors', big)), 'format', /^hlen\.safetensors: header length 1000 runs past the end of the file \(16 bytes\)/);
  });

  it('refuses metadata ids that do not fit the rows', async () => {
    const h = { __metadata__: { ids: '["x","y","z"]' }, t: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 32] } };
    await rejects(readVectors(fixture(dir, 'ids3.safetensors', safetensors(h, f32le(M)))), 'input', /^ids3\.safetensors: __metadata__ "ids" has 3 ids but the tensor has 2 rows/);
    const d = { __metadata__: { ids: '["x","x"]' }, t: { dtype: 'F32', shape: [2, 4], data_offsets: [0, 32] } };
    await rejects(readVectors(fixture(dir, 'dup.safetensors', safetensors(d, f32le(M)))), 'input', /duplicated id: "x" at row 0 and row 1/);
  });
});

describe('readVectors: .jsonl', () => {
  it('reads ids (String of numbers), "vector" or "embedding", blank lines, CRLF, BOM and .ndjson', async () => {
    const text = '\uFEFF{"id":"a","vector":[1.5,-2.25]}\r\n\r\n{"id":7,"embedding":[3,0.1]}\n   \n{"id":"c","vector":[0,1e-3]}';
    const t = await readVectors(fixture(dir, 'v.ndjson', text));
    expect(t.format).toBe('jsonl');
    expect(t.dim).toBe(2);
    expect(t.ids).toEqual(['a', '7', 'c']);
    expect(Array.from(t.vectors)).toEqual([1.5, -2.25, 3, 0.1, 0, 1e-3].map(Math.fround));
  });

  it.each([
    ['{"id":"b","vector":[1,2', /^bad\.jsonl:3: expected a JSON object, got invalid JSON/, undefined],
    ['{"id":"b","vector":[1,"x"]}', /^bad\.jsonl:3: field "vector"\[1\]: expected a finite number, got "x"/, 'vector'],
    ['{"id":"b","embedding":[1,null]}', /^bad\.jsonl:3: field "embedding"\[1\]: expected a finite number, got null/, 'embedding'],
    ['{"id":"b","vector":[1,2,3]}', /^bad\.jsonl:3: field "vector": vector has 3 values but line 1 has 2/, 'vector'],
    ['{"id":true,"vector":[1,2]}', /^bad\.jsonl:3: field "id": expected a string or number, got true/, 'id'],
    ['{"id":"b"}', /^bad\.jsonl:3: no "vector" \(or "embedding"\) field/, 'vector'],
    ['[1,2]', /^bad\.jsonl:3: expected a JSON object/, undefined],
  ])('bad line %s', async (bad, message, field) => {
    const f = fixture(dir, 'bad.jsonl', `{"id":"a","vector":[1,2]}\n\n${bad}\n{"id":"c","vector":[1,2]}\n`);
    const e = await rejects(readVectors(f), 'format', message);
    expect(e.details).toMatchObject({ file: f, line: 3, field });
  });

  it('refuses duplicated ids, naming the id and both line numbers', async () => {
    const f = fixture(dir, 'dup.jsonl', '{"id":"a","vector":[1]}\n{"id":"b","vector":[2]}\n{"id":"a","vector":[3]}\n{"id":2,"vector":[4]}\n{"id":"2","vector":[5]}\n');
    const e = await rejects(readVectors(f), 'input', /^dup\.jsonl: 2 duplicated ids: "a" at line 1 and line 3; "2" at line 4 and line 5$/);
    expect(e.details).toMatchObject({ file: f, field: 'id' });
  });

  it('refuses an empty file and an idsFile option', async () => {
    await rejects(readVectors(fixture(dir, 'empty.jsonl', '\n\n')), 'format', /^empty\.jsonl: no vectors/);
    const f = fixture(dir, 'ok.jsonl', '{"id":"a","vector":[1]}\n');
    await rejects(readVectors(f, { idsFile: f }), 'input', /^ok\.jsonl: option idsFile applies only to \.npy and \.safetensors/);
    await rejects(readVectors(f, { tensor: 't' }), 'input', /^ok\.jsonl: option tensor applies only to \.safetensors/);
  });
});

describe('readVectors: files', () => {
  it('refuses an unknown extension, naming the file and the accepted ones', async () => {
    const f = fixture(dir, 'emb.bin', 'x');
    const e = await rejects(readVectors(f), 'input', /^emb\.bin: unknown vector file extension "\.bin"; expected \.npy, \.safetensors, \.jsonl or \.ndjson$/);
    expect(e.details.file).toBe(f);
  });

  it('reports a missing file as an input error', async () => {
    await rejects(readVectors(join(dir, 'nothere.npy')), 'input', /file not found: .*nothere\.npy/);
  });
});

describe('alignVectors', () => {
  it('reorders rows by id into the caller order', () => {
    const t = table(['a', 'b', 'c'], [[1, 1], [2, 2], [3, 3]]);
    const r = alignVectors(t, { ids: ['c', 'a', 'b'], what: 'items' });
    expect(Array.from(r.vectors)).toEqual([3, 3, 1, 1, 2, 2]);
    expect(r.missing).toEqual([]);
    // a subset in another order is fine: extra rows in the file are ignored
    expect(Array.from(alignVectors(t, { ids: ['b'], what: 'users' }).vectors)).toEqual([2, 2]);
  });

  it('refuses ids missing from the file, listing at most 5 and the count; allowMissing leaves zero rows', () => {
    const t = table(['a', 'b'], [[1, 1], [2, 2]]);
    const want = ['x1', 'b', 'x2', 'x3', 'x4', 'x5', 'x6', 'a', 'x7'];
    const e = throws(() => alignVectors(t, { ids: want, what: 'items' }), 'input');
    expect(e.message).toBe('emb.npy: 7 of 9 items have no vector: "x1", "x2", "x3", "x4", "x5", … (2 more) (every one needs a row; alignVectors({ allowMissing: true }) leaves theirs zero)');
    expect(e.details).toMatchObject({ file: '/x/emb.npy', field: 'id' });
    const r = alignVectors(t, { ids: ['b', 'zz', 'a'], what: 'users', allowMissing: true });
    expect(Array.from(r.vectors)).toEqual([2, 2, 0, 0, 1, 1]);
    expect(r.missing).toEqual([1]);
  });

  it('takes rows in order without ids, and refuses a row count that differs', () => {
    const t = table(null, [[1, 2], [3, 4]]);
    const r = alignVectors(t, { ids: ['p', 'q'], what: 'items' });
    expect(Array.from(r.vectors)).toEqual([1, 2, 3, 4]);
    expect(r.vectors).not.toBe(t.vectors);
    const e = throws(() => alignVectors(t, { ids: ['p', 'q', 'r', 's'], what: 'users' }), 'input', /^emb\.npy: has 2 rows and no ids, but there are 4 users; 2 users have no row: "r", "s";/);
    expect(e.details).toMatchObject({ file: '/x/emb.npy', field: 'rows' });
    throws(() => alignVectors(t, { ids: ['p'], what: 'items' }), 'input', /^emb\.npy: has 2 rows and no ids, but there are 1 items; without ids/);
  });

  it('refuses a hand-made table with duplicated ids', () => {
    throws(() => alignVectors(table(['a', 'a'], [[1], [2]]), { ids: ['a'], what: 'items' }), 'input', /^emb\.npy: 1 duplicated id: "a" at row 0 and row 1$/);
  });

  it('aligns a file read from disk end to end', async () => {
    const f = fixture(dir, 'e2e.jsonl', '{"id":"i2","vector":[2,20]}\n{"id":"i0","vector":[0,0]}\n');
    const r = alignVectors(await readVectors(f), { ids: ['i0', 'i1', 'i2'], what: 'items', allowMissing: true });
    expect(Array.from(r.vectors)).toEqual([0, 0, 0, 0, 2, 20]);
    expect(r.missing).toEqual([1]);
  });
});

describe('writeNpy', () => {
  it('writes a v1.0 <f4 file that reads back exactly, atomically', async () => {
    const sub = join(dir, 'out');
    const f = join(sub, 'w.npy');
    await writeNpy(f, Float32Array.from(M32), 2, 4);
    const bytes = readFileSync(f);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    expect((10 + bytes.readUInt16LE(8)) % 64).toBe(0);
    expect(bytes.length).toBe(10 + bytes.readUInt16LE(8) + 32);
    const t = await readVectors(f);
    expect(t.dim).toBe(4);
    expect(Array.from(t.vectors)).toEqual(M32);
    expect(readdirSync(sub)).toEqual(['w.npy']); // no temporary file left behind
    await rejects(writeNpy(f, new Float32Array(3), 2, 2), 'input', /vectors: expected a Float32Array of rows × dim = 4 values/);
  });
});

const PY = '/usr/bin/python3';
const hasNumpy = ((): boolean => {
  if (!existsSync(PY)) return false;
  try {
    execFileSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasNumpy) console.log('vectors.test: skipping the numpy interop test: /usr/bin/python3 with numpy is not installed');

describe('numpy interop', () => {
  it.skipIf(!hasNumpy)('reads .npy files numpy wrote (float32 and float64)', async () => {
    const script = [
      'import numpy as np, sys',
      'a = (np.arange(12, dtype=np.float64).reshape(3, 4) - 5.5) / 3',
      'np.save(sys.argv[1], a.astype(np.float32))',
      'np.save(sys.argv[2], a)',
    ].join('\n');
    const p32 = join(dir, 'np32.npy');
    const p64 = join(dir, 'np64.npy');
    execFileSync(PY, ['-c', script, p32, p64]);
    const want = Array.from({ length: 12 }, (_, i) => Math.fround((i - 5.5) / 3));
    for (const p of [p32, p64]) {
      const t = await readVectors(p);
      expect(t.dim).toBe(4);
      expect(t.vectors.length).toBe(12);
      expect(Array.from(t.vectors)).toEqual(want);
    }
  });
});
