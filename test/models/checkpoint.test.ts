import { describe, expect, test } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_MAGIC, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from '../../src/models/checkpoint.js';
import type { ModelState } from '../../src/models/types.js';

const state: ModelState = {
  kind: 'svd',
  config: { dim: 3, lr: 0.005, nested: { a: [1, 2] } },
  arrays: {
    users: new Float32Array([0.5, -1.25, 3, Math.PI, 1e-30, -0]),
    items: new Float32Array([7]),
    seen: new Int32Array([1, -2, 2147483647, -2147483648, 5]),
    empty: new Float32Array(0),
  },
};

describe('checkpoint', () => {
  test('round-trips kind, config, meta, every array bit for bit, and extras', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-ckpt-'));
    const path = join(dir, 'm', 'best.ckpt');
    const ts = new Float64Array([1.5, 1e12, -3]);
    const bytes = await saveCheckpoint(path, state, { epoch: 4, note: 'é' }, { extras: { 'train.ts': ts, flags: new Uint8Array([1, 0, 255]), big: new Uint32Array([4294967295]) } });
    expect(readFileSync(path).length).toBe(bytes);
    expect(readdirSync(join(dir, 'm'))).toEqual(['best.ckpt']); // the temporary file was renamed away
    const ck = await loadCheckpoint(path);
    expect(ck.version).toBe(1);
    expect(ck.source).toBe(path);
    expect(ck.state.kind).toBe('svd');
    expect(ck.state.config).toEqual(state.config);
    expect(ck.meta).toEqual({ epoch: 4, note: 'é' });
    expect(Object.keys(ck.state.arrays)).toEqual(['users', 'items', 'seen', 'empty']);
    for (const [name, a] of Object.entries(state.arrays)) {
      const b = ck.state.arrays[name];
      expect(b.constructor).toBe(a.constructor);
      expect(Array.from(b)).toEqual(Array.from(a));
    }
    expect(Object.is(ck.state.arrays.users[5], -0)).toBe(true);
    expect(Array.from(ck.extras['train.ts'] as Float64Array)).toEqual([1.5, 1e12, -3]);
    expect(ck.extras.flags).toBeInstanceOf(Uint8Array);
    expect(Array.from(ck.extras.big)).toEqual([4294967295]);
  });

  test('lays arrays out 8-byte aligned after the magic and version', () => {
    const bytes = encodeCheckpoint(state);
    expect(Buffer.from(bytes.subarray(0, 8)).toString('latin1')).toBe(CHECKPOINT_MAGIC);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint32(8, true)).toBe(1);
    const hlen = view.getUint32(12, true);
    const header = JSON.parse(Buffer.from(bytes.subarray(16, 16 + hlen)).toString('utf8'));
    const start = (16 + hlen + 7) & ~7;
    expect(start % 8).toBe(0);
    for (const e of header.arrays) expect(e.offset % 8).toBe(0);
    const users = header.arrays.find((e: { name: string }) => e.name === 'users');
    expect(new DataView(bytes.buffer, bytes.byteOffset + start + users.offset).getFloat32(0, true)).toBe(0.5);
  });

  test('refuses a file that is not a checkpoint, naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gnnrl-ckpt-'));
    const path = join(dir, 'x.ckpt');
    writeFileSync(path, 'hello, this is not a checkpoint at all');
    await expect(loadCheckpoint(path)).rejects.toThrow(new RegExp(`checkpoint ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not a gnnrl checkpoint`));
    await expect(loadCheckpoint(join(dir, 'missing.ckpt'))).rejects.toThrow(/missing\.ckpt: cannot read/);
  });

  test('refuses truncated files at every cut', () => {
    const bytes = encodeCheckpoint(state);
    const hlen = new DataView(bytes.buffer).getUint32(12, true);
    const cuts = [0, 5, 15, 16 + (hlen >> 1), bytes.length - 1, bytes.length - 8];
    for (const cut of cuts) {
      expect(() => decodeCheckpoint(bytes.subarray(0, cut), 'f.ckpt'), `cut at ${cut}`).toThrow(/checkpoint f\.ckpt: (truncated|corrupt)/);
    }
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 8), 'f.ckpt')).toThrow(/truncated: the data section should hold \d+ bytes, the file has \d+/);
  });

  test('refuses a newer version, a flipped data byte and trailing bytes', () => {
    const bytes = encodeCheckpoint(state);
    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint32(8, 2, true);
    expect(() => decodeCheckpoint(v2, 'f.ckpt')).toThrow(/format version 2 is not supported/);
    const flipped = bytes.slice();
    flipped[flipped.length - 20] ^= 0x40;
    expect(() => decodeCheckpoint(flipped, 'f.ckpt')).toThrow(/corrupt: the data section's SHA-256/);
    const longer = new Uint8Array(bytes.length + 8);
    longer.set(bytes);
    expect(() => decodeCheckpoint(longer, 'f.ckpt')).toThrow(/has trailing bytes/);
    const badHeader = bytes.slice();
    badHeader[16] = 0x20; // '{' -> ' ' still parses; break it harder
    badHeader[17] = 0x7b;
    expect(() => decodeCheckpoint(badHeader, 'f.ckpt')).toThrow(/corrupt header/);
  });

  test('rejects arrays of unsupported types when saving, naming them', () => {
    const bad = { ...state, arrays: { w: [1, 2, 3] as unknown as Float32Array } };
    expect(() => encodeCheckpoint(bad)).toThrow(/state\.arrays\.w: expected a Float32Array/);
    expect(() => encodeCheckpoint({ ...state, kind: '' })).toThrow(/state\.kind/);
  });
});
