/**
 * `RecommendServer`: a `Recommender` over HTTP/1.1 (keep-alive), on `node:http`.
 *
 * Why `node:http` and not a framework: six routes with small JSON bodies, whose checks
 * must say exactly which field is wrong in the project's own words (the same messages as
 * the library's coded errors); a framework would add dependencies and a second schema
 * language for no gain here. Keep-alive, body limits and graceful close are a few lines.
 *
 * Routes (every error is JSON `{ error: { code, message, field? } }`):
 * - `GET /recommend?user=U&k=K[&exclude=train|none][&diversify=λ]` → 200 `{ user, items, scores, version, fallback? }`
 * - `POST /recommend` `{ users: [...], k, exclude?, diversify? }` → 200 `{ results: [...] }`
 * - `POST /feedback` one event or `{ events: [...] }` → 202 `{ queued, queueDepth }`; 503 when the queue is full
 * - `GET /health` → 200 while the process runs; `GET /ready` → 200 when a model is loaded, 503 while shutting down
 * - `GET /metrics` → Prometheus text
 * 400: malformed JSON, a missing or bad field (named); 404: unknown route, or an unknown
 * user under `unknownUser: 'error'`; 405: wrong method; 413: body over `maxBodyBytes`.
 *
 * Hot reload (`reload(file)`): the new model is loaded beside the old one, swapped in one
 * assignment, and the old one is closed once the requests that started on it are done,
 * so no request is dropped or answered by a closed model.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GnnrlError } from '../errors.js';
import type { Engine } from '../engine.js';
import { normalizeId } from '../data/idmap.js';
import { ServerMetrics } from './metrics.js';
import { Recommender, type RecommenderOptions } from './recommender.js';
import { checkEvent, type FeedbackEvent } from './feedback.js';

export interface ServerOptions {
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest k a request may ask for (default 1000). */
  maxK?: number;
  /** Largest `users` list of a batch request (default 1000). */
  maxBatchUsers?: number;
  /**
   * Where POST /feedback goes instead of the local `observe` (a replica publishing to a
   * broker: `FeedbackPublisher.publish`). Events are checked first either way.
   */
  publish?: (events: FeedbackEvent[]) => Promise<unknown>;
}

interface Slot {
  rec: Recommender;
  active: number;
  retired: boolean;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

export class RecommendServer {
  private slot: Slot;
  private server: Server | null = null;
  private closing = false;
  private readonly sockets = new Set<import('node:net').Socket>();
  readonly metrics = new ServerMetrics();
  private readonly maxBody: number;
  private readonly maxK: number;
  private readonly maxBatch: number;
  private readonly publish: ServerOptions['publish'];

  constructor(rec: Recommender, private readonly loadOptions: RecommenderOptions, opts: ServerOptions = {}) {
    this.slot = { rec, active: 0, retired: false };
    this.maxBody = opts.maxBodyBytes ?? 1 << 20;
    this.maxK = opts.maxK ?? 1000;
    this.maxBatch = opts.maxBatchUsers ?? 1000;
    this.publish = opts.publish;
  }

  /** Loads `file` and wraps it. */
  static async open(file: string, opts: RecommenderOptions & ServerOptions): Promise<RecommendServer> {
    const rec = await Recommender.load(file, opts);
    return new RecommendServer(rec, opts, opts);
  }

  get recommender(): Recommender {
    return this.slot.rec;
  }

  get engine(): Engine {
    return this.slot.rec.engine;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    if (this.server) throw new GnnrlError('state', 'RecommendServer.listen: already listening');
    const server = createServer({ keepAlive: true }, (req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5000;
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Swaps in the model in `file` without dropping requests; the old one closes when its requests are done. */
  async reload(file: string): Promise<{ version: number }> {
    const rec = await Recommender.load(file, this.loadOptions);
    const old = this.slot;
    this.slot = { rec, active: 0, retired: false };
    old.retired = true;
    if (old.active === 0) await old.rec.close();
    return { version: rec.version };
  }

  /**
   * Graceful stop: refuse new connections, answer what is in flight, close idle
   * keep-alive sockets, optionally flush feedback and write a snapshot, then close the model.
   */
  async close(opts: { snapshot?: string } = {}): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const server = this.server;
    if (server) {
      const done = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await done;
    }
    for (const s of this.sockets) s.destroy();
    const rec = this.slot.rec;
    if (opts.snapshot) {
      await rec.flush();
      await rec.snapshot(opts.snapshot);
    }
    await rec.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = url.pathname;
    const slot = this.slot;
    slot.active++;
    let status = 500;
    try {
      const out = await this.route(req, url, slot.rec);
      status = out.status;
      if (this.closing) res.setHeader('connection', 'close');
      if (typeof out.body === 'string') {
        res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(out.body);
      } else {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out.body));
      }
    } catch (err) {
      const e = toHttpError(err);
      status = e.status;
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) });
      res.end(JSON.stringify({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } }));
      // Unread body bytes would be taken for the next request on this socket.
      if (status === 413) req.socket.destroySoon?.();
    } finally {
      this.metrics.record(KNOWN_ROUTES.has(route) ? route : 'other', status, (performance.now() - t0) / 1000);
      slot.active--;
      if (slot.retired && slot.active === 0) void slot.rec.close();
    }
  }

  private async route(req: IncomingMessage, url: URL, rec: Recommender): Promise<{ status: number; body: unknown }> {
    const method = req.method ?? 'GET';
    const allow = (m: string) => {
      if (method !== m) throw new HttpError(405, 'method', `${url.pathname} takes ${m}, not ${method}`);
    };
    switch (url.pathname) {
      case '/health':
        allow('GET');
        return { status: 200, body: { status: 'ok' } };
      case '/ready':
        allow('GET');
        if (this.closing) throw new HttpError(503, 'unavailable', 'shutting down');
        return { status: 200, body: { status: 'ready', model: rec.kind, version: rec.version, mode: rec.mode } };
      case '/metrics': {
        allow('GET');
        const s = rec.stats();
        return { status: 200, body: this.metrics.render({ modelVersion: s.version, queueDepth: s.queueDepth, eventsApplied: s.eventsApplied, users: rec.size.users, items: rec.size.items }) };
      }
      case '/recommend':
        if (method === 'GET') {
          const user = url.searchParams.get('user');
          if (user === null || user === '') throw new HttpError(400, 'input', 'user: required (the external user id)', 'user');
          const k = this.parseK(url.searchParams.get('k') ?? '10');
          const opts = this.recOpts(url.searchParams.get('exclude') ?? undefined, url.searchParams.get('diversify') ?? undefined);
          const r = await rec.recommend(normalizeId(user)!, k, opts);
          return { status: 200, body: { user: normalizeId(user)!, ...r } };
        }
        if (method === 'POST') {
          const body = await this.json(req);
          if (!isObject(body)) throw new HttpError(400, 'input', 'body: expected an object { users: [...], k }', 'body');
          const users = body.users;
          if (!Array.isArray(users) || users.length === 0) throw new HttpError(400, 'input', 'users: expected a non-empty array of user ids', 'users');
          if (users.length > this.maxBatch) throw new HttpError(400, 'input', `users: at most ${this.maxBatch} per request, got ${users.length}`, 'users');
          users.forEach((u, j) => {
            if (!(typeof u === 'string' || (typeof u === 'number' && Number.isInteger(u)))) throw new HttpError(400, 'input', `users[${j}]: expected a string or integer id, got ${JSON.stringify(u)}`, `users[${j}]`);
          });
          const k = this.parseK(body.k ?? 10);
          const opts = this.recOpts(body.exclude, body.diversify);
          const results = await rec.recommendBatch(users as (string | number)[], k, opts);
          return { status: 200, body: { results: results.map((r, j) => ({ user: users[j], ...r })) } };
        }
        throw new HttpError(405, 'method', `/recommend takes GET or POST, not ${method}`);
      case '/feedback': {
        allow('POST');
        const body = await this.json(req);
        const raw = isObject(body) && Array.isArray(body.events) ? body.events : [body];
        if (this.publish) {
          const events = raw.map((e, j) => checkEvent(e, `events[${j}]`));
          try {
            await this.publish(events);
          } catch (e) {
            throw new HttpError(503, 'broker', `feedback not accepted: the broker is unavailable (${(e as Error).message})`);
          }
          this.metrics.feedbackEvents += events.length;
          return { status: 202, body: { queued: events.length, published: true } };
        }
        const r = rec.observe(raw as never);
        this.metrics.feedbackEvents += r.queued;
        return { status: 202, body: r };
      }
      default:
        throw new HttpError(404, 'not_found', `no route ${url.pathname} (routes: /recommend, /feedback, /health, /ready, /metrics)`);
    }
  }

  private parseK(raw: unknown): number {
    const k = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    if (!(typeof k === 'number' && Number.isInteger(k) && k >= 1 && k <= this.maxK)) {
      throw new HttpError(400, 'input', `k: expected an integer in [1, ${this.maxK}], got ${JSON.stringify(raw)}`, 'k');
    }
    return k;
  }

  private recOpts(exclude: unknown, diversify: unknown): { exclude?: 'train' | 'none'; diversify?: number } {
    const out: { exclude?: 'train' | 'none'; diversify?: number } = {};
    if (exclude !== undefined) {
      if (exclude !== 'train' && exclude !== 'none') throw new HttpError(400, 'input', `exclude: expected 'train' or 'none', got ${JSON.stringify(exclude)}`, 'exclude');
      out.exclude = exclude;
    }
    if (diversify !== undefined) {
      const d = typeof diversify === 'string' ? Number(diversify) : diversify;
      if (!(typeof d === 'number' && d >= 0 && d <= 1)) throw new HttpError(400, 'input', `diversify: expected a number in [0, 1], got ${JSON.stringify(diversify)}`, 'diversify');
      out.diversify = d;
    }
    return out;
  }

  private json(req: IncomingMessage): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > this.maxBody) {
        reject(new HttpError(413, 'too_large', `body: ${declared} bytes, the limit is ${this.maxBody}`, 'body'));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.maxBody) over = true;
        else chunks.push(c);
      });
      req.on('end', () => {
        if (over) return reject(new HttpError(413, 'too_large', `body: more than ${this.maxBody} bytes`, 'body'));
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new HttpError(400, 'input', `body: malformed JSON (${(e as Error).message})`, 'body'));
        }
      });
      req.on('error', reject);
    });
  }
}

const KNOWN_ROUTES = new Set(['/recommend', '/feedback', '/health', '/ready', '/metrics']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof GnnrlError) {
    const field = err.details.field ?? err.details.arg;
    if (err.code === 'input') {
      const unknownUser = /unknown user/.test(err.message);
      return new HttpError(unknownUser ? 404 : 400, unknownUser ? 'unknown_user' : 'input', err.message, field);
    }
    if (err.code === 'limit') return new HttpError(503, 'busy', err.message, field);
    if (err.code === 'state') return new HttpError(503, 'unavailable', err.message);
  }
  return new HttpError(500, 'internal', err instanceof Error ? err.message : String(err));
}
