/**
 * Scale-out through Redis Streams: stateless replicas answer requests and publish the
 * feedback they receive; one learner consumes it, folds it in, and publishes snapshots
 * that every replica reloads.
 *
 *   replica ─XADD→ <prefix>:feedback ─XREADGROUP (group 'learners')→ learner
 *   learner ─snapshot file, then XADD→ <prefix>:snapshots ─XREAD→ every replica → reload
 *
 * Delivery: an entry is acknowledged (XACK) only once a snapshot that contains it is on
 * disk, and every snapshot records the last stream id folded into it (`meta.broker.lastId`).
 * A learner that dies loses only what no snapshot holds; when it (or another member of
 * the group) restarts from the last snapshot, Redis hands it the unacknowledged entries
 * again (its own pending list first), entries at or below the snapshot's `lastId` are
 * acknowledged without being applied, and the rest are applied once: every message takes
 * effect exactly once in the published snapshots. Entries are applied in stream order.
 *
 * Failure modes (written down in the README): Redis down → replicas' POST /feedback
 * answers 503 and requests are still served; learner down → feedback waits in the stream
 * (bounded by `maxLen`, oldest trimmed) and replicas serve the last snapshot; a snapshot
 * path the replicas cannot read → they log it and keep the model they have. Snapshots
 * travel as file paths: learner and replicas need a shared volume (or object storage
 * mounted as one).
 */
import { createClient } from 'redis';
import { GnnrlError } from '../errors.js';
import { checkEvent, type FeedbackEvent } from './feedback.js';
import type { Recommender } from './recommender.js';

function makeClient(url: string) {
  return createClient({ url, socket: { reconnectStrategy: (n: number) => Math.min(50 * 2 ** n, 2000) } });
}
type Client = ReturnType<typeof makeClient>;

export interface BrokerOptions {
  /** redis://host:port */
  url: string;
  /** Key prefix (default 'gnnrl'). */
  prefix?: string;
}

function keys(prefix = 'gnnrl') {
  return { feedback: `${prefix}:feedback`, snapshots: `${prefix}:snapshots` };
}

async function connect(url: string, what: string): Promise<Client> {
  const client = makeClient(url);
  let lastError: unknown;
  client.on('error', (e) => (lastError = e));
  try {
    await client.connect();
  } catch (e) {
    await client.destroy?.();
    throw new GnnrlError('state', `${what}: cannot connect to Redis at ${url}: ${(e as Error).message ?? lastError}`, { cause: e });
  }
  return client;
}

/** Stream entries as node-redis returns them, normalised: [{ id, message }]. */
function entriesOf(reply: unknown): { id: string; message: Record<string, string> }[] {
  if (!reply) return [];
  const streams = Array.isArray(reply) ? reply : Object.values(reply as object);
  const out: { id: string; message: Record<string, string> }[] = [];
  for (const s of streams as { messages?: unknown[] }[]) {
    for (const m of (s.messages ?? []) as ({ id: string; message: Record<string, string> } | null)[]) if (m) out.push(m);
  }
  return out;
}

/** Compares stream ids ('ms-seq'). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
}

/** The replica side: publishes feedback to the stream. */
export class FeedbackPublisher {
  private constructor(private readonly client: Client, private readonly key: string, private readonly maxLen: number) {}

  static async connect(opts: BrokerOptions & { maxLen?: number }): Promise<FeedbackPublisher> {
    return new FeedbackPublisher(await connect(opts.url, 'FeedbackPublisher'), keys(opts.prefix).feedback, opts.maxLen ?? 1_000_000);
  }

  /** Checks and appends events (one stream entry each, in one round trip); returns their ids. */
  async publish(events: FeedbackEvent | readonly FeedbackEvent[]): Promise<string[]> {
    const list = Array.isArray(events) ? events.map((e, j) => checkEvent(e, `publish: events[${j}]`)) : [checkEvent(events, 'publish')];
    const multi = this.client.multi();
    for (const e of list) multi.xAdd(this.key, '*', { e: JSON.stringify(e) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: this.maxLen } });
    return (await multi.exec()) as unknown as string[];
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.destroy?.());
  }
}

export interface LearnerOptions extends BrokerOptions {
  recommender: Recommender;
  /** Where snapshots go: a file path template; `{version}` is replaced by the model version. */
  snapshotPath: string;
  group?: string;
  consumer?: string;
  /** Publish a snapshot after this many applied events (default 1000)… */
  snapshotEvery?: number;
  /** …or this long after the first event not yet in a snapshot (default 10 s). */
  snapshotIntervalMs?: number;
  /** Entries read per round (default 500) and how long a read blocks (default 200 ms). */
  batch?: number;
  blockMs?: number;
  onError?: (e: unknown) => void;
}

export interface LearnerStats {
  received: number;
  applied: number;
  skipped: number;
  acked: number;
  snapshots: number;
  lastId: string | null;
  lastSnapshot: string | null;
}

/** The learner: consumes feedback with a consumer group, folds it in, publishes snapshots. */
export class Learner {
  private running = true;
  private loop: Promise<void> | null = null;
  private unacked: string[] = [];
  private firstUnsnapshotted = 0;
  /** `stats.applied` when the last snapshot was written. */
  private appliedAtSnapshot = 0;
  readonly stats: LearnerStats = { received: 0, applied: 0, skipped: 0, acked: 0, snapshots: 0, lastId: null, lastSnapshot: null };
  private readonly k: ReturnType<typeof keys>;

  private constructor(private readonly reader: Client, private readonly writer: Client, private readonly o: Required<Omit<LearnerOptions, 'onError' | 'prefix'>> & LearnerOptions) {
    this.k = keys(o.prefix);
    const lastId = (o.recommender.meta.broker as { lastId?: unknown } | undefined)?.lastId;
    this.stats.lastId = typeof lastId === 'string' ? lastId : null;
  }

  static async start(opts: LearnerOptions): Promise<Learner> {
    const o = { group: 'learners', consumer: 'learner-1', snapshotEvery: 1000, snapshotIntervalMs: 10_000, batch: 500, blockMs: 200, ...opts };
    if (!o.snapshotPath.includes('{version}')) throw new GnnrlError('input', `Learner: snapshotPath must contain {version} (each snapshot is a new file, so replicas never read one being replaced), got ${JSON.stringify(o.snapshotPath)}`, { arg: 'snapshotPath' });
    const writer = await connect(o.url, 'Learner');
    const reader = writer.duplicate();
    reader.on('error', () => undefined);
    await reader.connect();
    try {
      await writer.xGroupCreate(keys(o.prefix).feedback, o.group, '0', { MKSTREAM: true });
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
    const l = new Learner(reader, writer, o as never);
    l.loop = l.run();
    return l;
  }

  private async run(): Promise<void> {
    // Our own pending entries first (delivered before a crash, never acknowledged), then new ones.
    let history = true;
    let cursor = '0';
    while (this.running) {
      try {
        const reply = await this.reader.xReadGroup(this.o.group, this.o.consumer, { key: this.k.feedback, id: history ? cursor : '>' }, { COUNT: this.o.batch, BLOCK: history ? undefined : this.o.blockMs });
        const entries = entriesOf(reply);
        if (entries.length) await this.apply(entries);
        if (history) {
          if (entries.length) cursor = entries[entries.length - 1].id;
          else history = false;
        }
        await this.maybeSnapshot(false);
      } catch (e) {
        if (!this.running) break;
        this.warn(e);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private warn(e: unknown): void {
    (this.o.onError ?? ((x) => process.emitWarning(`gnnrl learner: ${(x as Error).message}`, { code: 'GNNRL_LEARNER' })))(e);
  }

  private async apply(entries: { id: string; message: Record<string, string> }[]): Promise<void> {
    const events: FeedbackEvent[] = [];
    for (const { id, message } of entries) {
      this.stats.received++;
      this.unacked.push(id);
      if (this.stats.lastId !== null && compareStreamIds(id, this.stats.lastId) <= 0) {
        this.stats.skipped++; // already in the snapshot we started from
        continue;
      }
      try {
        events.push(checkEvent(JSON.parse(message.e), `stream entry ${id}`));
      } catch (e) {
        (this.o.onError ?? (() => undefined))(e); // a malformed entry is dropped (and acknowledged), not retried forever
      }
      this.stats.lastId = id;
    }
    if (events.length) {
      this.o.recommender.observe(events);
      this.stats.applied += events.length;
      if (!this.firstUnsnapshotted) this.firstUnsnapshotted = Date.now();
    }
  }

  private async maybeSnapshot(force: boolean): Promise<void> {
    const pendingApplied = this.firstUnsnapshotted > 0;
    const due = pendingApplied && (force || this.stats.applied - this.appliedAtSnapshot >= this.o.snapshotEvery || Date.now() - this.firstUnsnapshotted >= this.o.snapshotIntervalMs);
    if (due) {
      const rec = this.o.recommender;
      await rec.flush();
      const path = this.o.snapshotPath.replace('{version}', String(rec.version));
      await rec.snapshot(path, { broker: { lastId: this.stats.lastId } });
      this.stats.snapshots++;
      this.stats.lastSnapshot = path;
      this.appliedAtSnapshot = this.stats.applied;
      this.firstUnsnapshotted = 0;
      await this.writer.xAdd(this.k.snapshots, '*', { path, version: String(rec.version) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 100 } });
    }
    // Acknowledge what a snapshot now holds (skipped and malformed entries included).
    if ((due || !pendingApplied) && this.unacked.length) {
      const ids = this.unacked;
      this.unacked = [];
      await this.writer.xAck(this.k.feedback, this.o.group, ids);
      this.stats.acked += ids.length;
    }
  }

  /** Stops reading, publishes a last snapshot of what was applied, acknowledges it. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.maybeSnapshot(true);
    await this.reader.quit().catch(() => this.reader.destroy?.());
    await this.writer.quit().catch(() => this.writer.destroy?.());
  }

  /** Stops without snapshot or acknowledgement, as a crash would (for tests of recovery). */
  async abandon(): Promise<void> {
    this.running = false;
    this.reader.destroy?.();
    this.writer.destroy?.();
    await this.loop?.catch(() => undefined);
  }
}

/** The replica side of snapshots: calls `onSnapshot` for every snapshot published after it started. */
export class SnapshotFollower {
  private running = true;
  private loop: Promise<void> | null = null;

  private constructor(private readonly client: Client, private readonly key: string, private readonly onSnapshot: (path: string, version: number) => Promise<void>, private readonly onError: (e: unknown) => void) {}

  static async start(opts: BrokerOptions & { onSnapshot: (path: string, version: number) => Promise<void>; onError?: (e: unknown) => void }): Promise<SnapshotFollower> {
    const f = new SnapshotFollower(await connect(opts.url, 'SnapshotFollower'), keys(opts.prefix).snapshots, opts.onSnapshot, opts.onError ?? ((e) => process.emitWarning(`gnnrl replica: ${(e as Error).message}`, { code: 'GNNRL_REPLICA' })));
    f.loop = f.run();
    return f;
  }

  private async run(): Promise<void> {
    let cursor = '$';
    while (this.running) {
      try {
        const entries = entriesOf(await this.client.xRead({ key: this.key, id: cursor }, { BLOCK: 200, COUNT: 16 }));
        if (!entries.length) continue;
        cursor = entries[entries.length - 1].id;
        // Only the newest matters when several arrive at once.
        const last = entries[entries.length - 1].message;
        await this.onSnapshot(last.path, Number(last.version)).catch(this.onError);
      } catch (e) {
        if (!this.running) break;
        this.onError(e);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client.quit().catch(() => this.client.destroy?.());
  }
}
