import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { Engine } from '../../src/engine.js';
import { syntheticWorld } from '../../src/data/synthetic.js';
import { getModel, trainingGraph } from '../../src/models/registry.js';
import { saveTrainedModel } from '../../src/models/trained-checkpoint.js';
import { FeedbackPublisher, Learner, SnapshotFollower } from '../../src/serve/broker.js';
import { RecommendServer } from '../../src/serve/http.js';
import { Recommender } from '../../src/serve/recommender.js';
import { loadSnapshot } from '../../src/serve/snapshot.js';

// The real broker, from the OS packages (CI installs redis-server); a missing binary fails here, never skips.
const REDIS = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();

let redis: ChildProcess;
let url: string;
let engine: Engine;
let dir: string;
let ckpt: string;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  expect(REDIS, 'redis-server is not installed (apt-get install redis-server)').not.toBe('');
  const port = await freePort();
  redis = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  await until(async () => {
    const c = createClient({ url, socket: { reconnectStrategy: false } });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.quit();
      return true;
    } catch {
      return false;
    }
  }, 'redis-server to accept connections');
  engine = await Engine.create({ quiet: true });
  dir = mkdtempSync(join(tmpdir(), 'gnnrl-broker-'));
  const x = syntheticWorld({ preset: 'tiny', seed: 6 }).interactions;
  const entry = getModel('lightgcn');
  const m = await entry.create({ engine, train: x, graph: trainingGraph(x.user, x.item, x.nUsers, x.nItems), options: { dim: 8, seed: 1 } });
  await m.fit(x, { epochs: 3 });
  ckpt = join(dir, 'base.ckpt');
  await saveTrainedModel(ckpt, m, entry, x, { bestEpoch: 3, data: 'synthetic:tiny', split: 'none', val: 0, seed: 1, gnnrl: 'test' });
  m.dispose();
}, 60_000);

afterAll(async () => {
  redis?.kill('SIGTERM');
  engine?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('scale-out through Redis Streams', () => {
  test('feedback from two replicas reaches the learner exactly once, and its snapshots reach both replicas', async () => {
    const prefix = 'once';
    const learnerRec = await Recommender.load(ckpt, { engine, online: { intervalMs: 0 } });
    const learner = await Learner.start({ url, prefix, recommender: learnerRec, snapshotPath: join(dir, 'once-{version}.gnnrl'), snapshotEvery: 25, snapshotIntervalMs: 200 });
    const replicas: { name: string; pub: FeedbackPublisher; server: RecommendServer; follower: SnapshotFollower; base: string }[] = [];
    for (const name of ['a', 'b']) {
      const pub = await FeedbackPublisher.connect({ url, prefix });
      const server = await RecommendServer.open(ckpt, { engine, publish: (e) => pub.publish(e) });
      const addr = await server.listen(0);
      const follower = await SnapshotFollower.start({ url, prefix, onSnapshot: async (path) => void (await server.reload(path)) });
      replicas.push({ name, pub, server, follower, base: `http://127.0.0.1:${addr.port}` });
    }
    const item = 7;
    const before = learnerRec.currentVersion().popularity[learnerRec.itemIndex(item)];
    // 2 replicas × 30 events, over HTTP, each on the same item from a new user.
    await Promise.all(
      replicas.map(async (r) => {
        for (let j = 0; j < 30; j++) {
          const res = await fetch(`${r.base}/feedback`, { method: 'POST', body: JSON.stringify({ user: `${r.name}-${j}`, item, click: true }) });
          expect(res.status).toBe(202);
        }
      }),
    );
    await until(() => learner.stats.applied === 60 && learner.stats.acked === 60, 'the learner to apply and acknowledge 60 events');
    expect(learner.stats.received).toBe(60);
    // Nothing left pending in the group.
    const c = createClient({ url });
    await c.connect();
    const pending = (await c.xPending(`${prefix}:feedback`, 'learners')) as { pending: number };
    expect(pending.pending).toBe(0);
    await c.quit();
    const version = learnerRec.version;
    await until(() => replicas.every((r) => r.server.recommender.version === version), `both replicas to load version ${version}`);
    // Each message counted once: the item's popularity grew by exactly 60 everywhere.
    for (const r of replicas) {
      const v = r.server.recommender.currentVersion();
      expect(v.popularity[r.server.recommender.itemIndex(item)]).toBe(before + 60);
      const rec = (await (await fetch(`${r.base}/recommend?user=a-3&k=3`)).json()) as { fallback?: string };
      expect(rec.fallback).toBeUndefined();
    }
    for (const r of replicas) {
      await r.follower.stop();
      await r.server.close();
      await r.pub.close();
    }
    await learner.stop();
    await learnerRec.close();
  }, 60_000);

  test('a learner that dies before its snapshot loses nothing and applies nothing twice after a restart', async () => {
    const prefix = 'crash';
    const pub = await FeedbackPublisher.connect({ url, prefix });
    const rec1 = await Recommender.load(ckpt, { engine, online: { intervalMs: 0 } });
    const l1 = await Learner.start({ url, prefix, recommender: rec1, snapshotPath: join(dir, 'crash-{version}.gnnrl'), snapshotEvery: 10, snapshotIntervalMs: 60_000 });
    const item = 11;
    const base = rec1.currentVersion().popularity[rec1.itemIndex(item)];
    for (let j = 0; j < 10; j++) await pub.publish({ user: `first-${j}`, item, click: true });
    await until(() => l1.stats.snapshots === 1 && l1.stats.acked === 10, 'the first snapshot');
    const snap1 = l1.stats.lastSnapshot!;
    // Five more: applied in memory, never snapshotted or acknowledged; then the process "dies".
    for (let j = 0; j < 5; j++) await pub.publish({ user: `second-${j}`, item, click: true });
    await until(() => l1.stats.applied === 15, 'the learner to apply 15');
    await l1.abandon();
    await rec1.close();
    // Restart from the last snapshot, same consumer: the 5 pending ones come back once.
    const rec2 = await Recommender.load(snap1, { engine, online: { intervalMs: 0 } });
    expect(rec2.currentVersion().popularity[rec2.itemIndex(item)]).toBe(base + 10);
    const l2 = await Learner.start({ url, prefix, recommender: rec2, snapshotPath: join(dir, 'crash-{version}.gnnrl'), snapshotEvery: 1000, snapshotIntervalMs: 50 });
    for (let j = 0; j < 3; j++) await pub.publish({ user: `third-${j}`, item, click: true });
    await until(() => l2.stats.applied === 8, 'the restarted learner to apply 5 + 3');
    await l2.stop();
    const last = await loadSnapshot(l2.stats.lastSnapshot!);
    const counts = last.extras!.itemCounts as Float32Array;
    const idx = last.ids!.items.indexOf(item);
    expect(counts[idx]).toBe(base + 18);
    expect((last.meta.broker as { lastId: string }).lastId).toBe(l2.stats.lastId);
    await rec2.close();
    await pub.close();
  }, 60_000);

  test('a replica whose broker is gone answers 503 on /feedback and keeps serving', async () => {
    const pub = await FeedbackPublisher.connect({ url, prefix: 'gone' });
    await pub.close();
    const server = await RecommendServer.open(ckpt, { engine, publish: (e) => pub.publish(e) });
    const addr = await server.listen(0);
    const fb = await fetch(`http://127.0.0.1:${addr.port}/feedback`, { method: 'POST', body: JSON.stringify({ user: 1, item: 2, click: true }) });
    expect(fb.status).toBe(503);
    expect(((await fb.json()) as { error: { message: string } }).error.message).toMatch(/broker is unavailable/);
    expect((await fetch(`http://127.0.0.1:${addr.port}/recommend?user=1&k=2`)).status).toBe(200);
    await server.close();
  });
});

describe('gnnrl serve --role learner / replica', () => {
  test('a replica process publishes feedback, a learner process folds it in, the replica reloads the snapshot', async () => {
    const main = join(__dirname, '..', '..', 'src', 'cli', 'main.ts');
    const start = (args: string[]) => {
      const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', '--model', ckpt, '--port', '0', '--backend', 'cpu', '--redis', url, '--prefix', 'cli', ...args], { cwd: join(__dirname, '..', '..') });
      let err = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d: string) => (err += d));
      const base = new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (d: string) => {
          out += d;
          const m = /listening on (http:\/\/[\d.]+:\d+) .*(replica|learner) of redis/.exec(out);
          if (m) resolve(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}${err}`)));
      });
      return { child, base, stderr: () => err };
    };
    const learner = start(['--role', 'learner', '--snapshot-path', join(dir, 'cli-{version}.gnnrl'), '--online-options', '{"intervalMs":0}', '--snapshot-interval', '300']);
    const replica = start(['--role', 'replica']);
    const [, rbase] = await Promise.all([learner.base, replica.base]);
    for (let j = 0; j < 5; j++) {
      const res = await fetch(`${rbase}/feedback`, { method: 'POST', body: JSON.stringify({ user: `cli-user-${j}`, item: 3, click: true }) });
      expect(res.status).toBe(202);
    }
    // The learner snapshots within its interval (300 ms here); the replica reloads it.
    await until(() => /loaded snapshot .*cli-\d+\.gnnrl/.test(replica.stderr()), 'the replica to load the snapshot', 30_000);
    const r = (await (await fetch(`${rbase}/recommend?user=cli-user-2&k=3`)).json()) as { fallback?: string; version: number };
    expect(r.fallback).toBeUndefined();
    expect(r.version).toBeGreaterThan(1);
    for (const p of [replica, learner]) {
      const code = await new Promise<number | null>((resolve) => {
        p.child.on('exit', (c) => resolve(c));
        p.child.kill('SIGTERM');
      });
      expect(code, p.stderr()).toBe(0);
    }
  }, 60_000);
});
