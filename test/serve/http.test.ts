import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { RecommendServer } from '../../src/serve/http.js';
import { loadSnapshot } from '../../src/serve/snapshot.js';

let engine: Engine;
let dir: string;
let ckpt: string;
let ckpt2: string;
let server: RecommendServer;
let base: string;

const RUN = { bestEpoch: 1, data: 'synthetic:tiny', split: 'none', val: 0, seed: 1, gnnrl: 'test' };

beforeAll(async () => {
  engine = await Engine.create({ quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-http-'));
  const x = syntheticWorld({ preset: 'tiny', seed: 2 }).interactions;
  const entry = getModel('lightgcn');
  for (const [file, epochs] of [['a.ckpt', 3], ['b.ckpt', 6]] as const) {
    const m = await entry.create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 8, seed: 1 } });
    await m.fit(x, { epochs });
    await saveTrainedModel(join(dir, file), m, entry, x, RUN);
    m.dispose();
  }
  ckpt = join(dir, 'a.ckpt');
  ckpt2 = join(dir, 'b.ckpt');
  server = await RecommendServer.open(ckpt, { engine, online: { intervalMs: 0 }, maxBodyBytes: 4096, maxK: 50 });
  const addr = await server.listen(0);
  base = `http://127.0.0.1:${addr.port}`;
}, 120_000);

afterAll(async () => {
  await server?.close();
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any; text: string }> {
  const res = await fetch(base + path, { method, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)), headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* metrics are text */
  }
  return { status: res.status, json, text };
}

describe('gnnrl serve over HTTP', () => {
  test('GET /recommend, POST /recommend, /health, /ready', async () => {
    const one = await call('GET', '/recommend?user=3&k=5');
    expect(one.status).toBe(200);
    expect(one.json.user).toBe(3);
    expect(one.json.items).toHaveLength(5);
    expect(one.json.version).toBe(1);
    const direct = await server.recommender.recommend(3, 5);
    expect(one.json.items).toEqual(direct.items);
    const batch = await call('POST', '/recommend', { users: [3, 'nobody'], k: 4 });
    expect(batch.status).toBe(200);
    expect(batch.json.results[0].items).toEqual(direct.items.slice(0, 4));
    expect(batch.json.results[1].fallback).toBe('popularity');
    expect((await call('GET', '/health')).json).toEqual({ status: 'ok' });
    expect((await call('GET', '/ready')).json).toMatchObject({ status: 'ready', model: 'lightgcn', mode: 'factors' });
  });

  test.each([
    ['GET', '/recommend?k=5', undefined, undefined, 400, /user: required/],
    ['GET', '/recommend?user=3&k=0', undefined, undefined, 400, /k: expected an integer in \[1, 50\], got "0"/],
    ['GET', '/recommend?user=3&k=100000', undefined, undefined, 400, /k: expected an integer in \[1, 50\]/],
    ['GET', '/recommend?user=3&k=abc', undefined, undefined, 400, /k: expected an integer/],
    ['GET', '/recommend?user=3&exclude=all', undefined, undefined, 400, /exclude: expected 'train' or 'none'/],
    ['POST', '/recommend', undefined, '{"users": [1, 2', 400, /body: malformed JSON/],
    ['POST', '/recommend', { users: [] }, undefined, 400, /users: expected a non-empty array/],
    ['POST', '/recommend', { users: [1, { a: 1 }], k: 3 }, undefined, 400, /users\[1\]: expected a string or integer id/],
    ['POST', '/feedback', { user: 1, item: 2 }, undefined, 400, /expected one of reward, rating or click/],
    ['POST', '/feedback', { events: [{ user: 1, item: 2, click: 'yes' }] }, undefined, 400, /events\[0\]: click: expected true or false/],
    ['POST', '/feedback', undefined, 'x'.repeat(5000), 413, /body: .* the limit is 4096|more than 4096/],
    ['DELETE', '/recommend', undefined, undefined, 405, /takes GET or POST/],
    ['POST', '/health', {}, undefined, 405, /\/health takes GET/],
    ['GET', '/nope', undefined, undefined, 404, /no route \/nope/],
  ] as const)('%s %s → the documented status and message, and the server stays up', async (method, path, body, raw, status, message) => {
    const r = await call(method, path, body, raw);
    expect(r.status).toBe(status);
    expect(r.json.error.message).toMatch(message);
    expect((await call('GET', '/health')).status).toBe(200);
  });

  test('POST /feedback is folded in: a new version answers, and /metrics reports it', async () => {
    const before = (await call('GET', '/recommend?user=newcomer&k=3')).json;
    expect(before.fallback).toBe('popularity');
    const fb = await call('POST', '/feedback', { events: [{ user: 'newcomer', item: 5, click: true }, { user: 'newcomer', item: 9, rating: 5 }] });
    expect(fb.status).toBe(202);
    expect(fb.json.queued).toBe(2);
    await server.recommender.flush();
    const after = (await call('GET', '/recommend?user=newcomer&k=3')).json;
    expect(after.fallback).toBeUndefined();
    expect(after.version).toBeGreaterThan(before.version);
    const m = await call('GET', '/metrics');
    expect(m.text).toMatch(/^gnnrl_http_requests_total\{route="\/recommend",status="200"\} \d+$/m);
    expect(m.text).toMatch(/^gnnrl_http_request_duration_seconds_bucket\{route="\/recommend",le="\+Inf"\} \d+$/m);
    expect(m.text).toMatch(new RegExp(`^gnnrl_model_version ${after.version}$`, 'm'));
    expect(m.text).toMatch(/^gnnrl_observe_queue_depth 0$/m);
    expect(m.text).toMatch(/^gnnrl_feedback_events_received_total 2$/m);
  });

  test('reload swaps the model without dropping requests in flight', async () => {
    const inflight = Array.from({ length: 40 }, (_, j) => call('GET', `/recommend?user=${j % 20}&k=5`));
    const reloaded = server.reload(ckpt2);
    const more = Array.from({ length: 40 }, (_, j) => call('GET', `/recommend?user=${j % 20}&k=5`));
    await reloaded;
    const all = await Promise.all([...inflight, ...more]);
    for (const r of all) expect(r.status).toBe(200);
    const fresh = await server.recommender.recommend(4, 5);
    expect((await call('GET', '/recommend?user=4&k=5')).json.items).toEqual(fresh.items);
  });

  test('keep-alive: many requests on one socket', async () => {
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    for (let j = 0; j < 10; j++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${base}/recommend?user=${j}&k=2`, { agent }, (res) => {
          sockets.add(res.socket);
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end();
      });
    }
    expect(sockets.size).toBe(1);
    agent.destroy();
  });

  test('close drains, writes the snapshot asked for, and stops answering', async () => {
    const other = await RecommendServer.open(ckpt, { engine, online: { intervalMs: 0 } });
    const addr = await other.listen(0);
    await fetch(`http://127.0.0.1:${addr.port}/feedback`, { method: 'POST', body: JSON.stringify({ user: 'late', item: 1, click: true }) });
    const snap = join(dir, 'exit.gnnrl');
    await other.close({ snapshot: snap });
    const s = await loadSnapshot(snap);
    expect(s.ids!.users).toContain('late');
    await expect(fetch(`http://127.0.0.1:${addr.port}/health`)).rejects.toThrow();
  });
});
