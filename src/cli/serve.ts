/**
 * `gnnrl serve`: serves a `gnnrl train` checkpoint or a snapshot over HTTP until stopped.
 *
 * Signals: SIGTERM or Ctrl-C stop gracefully (stop accepting, answer what is in flight,
 * flush feedback and write `--snapshot-on-exit` if given, exit 0); SIGHUP reloads
 * `--model` from disk without dropping requests (so does a change of the file with
 * `--watch`). Exit codes: 0 stopped, 1 failed to load or listen, 2 bad options.
 *
 * Scale-out (`--redis URL --role replica|learner`, see serve/broker.ts): replicas publish
 * POST /feedback to a Redis stream and reload every snapshot the learner publishes; the
 * learner consumes the stream, folds it in and writes snapshots to `--snapshot-path`.
 */
import { existsSync, unwatchFile, watchFile } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError, formatHelp, parseBool, parseChoice, parseInt32, parseString, resolveOptions, type OptionSpec } from './args.js';
import { BACKEND_CHOICES, Engine, type BackendChoice } from '../engine.js';
import { RecommendServer } from '../serve/http.js';
import { FeedbackPublisher, Learner, SnapshotFollower } from '../serve/broker.js';
import type { OnlineOptions, UnknownUserPolicy } from '../serve/recommender.js';
import type { TrainCommandIO } from './train.js';

export interface ServeConfig {
  model: string;
  port: number;
  host: string;
  backend: BackendChoice;
  unknownUser: UnknownUserPolicy;
  online: OnlineOptions;
  maxBody: number;
  maxK: number;
  snapshotOnExit: string | null;
  watch: boolean;
  redis: string | null;
  role: 'standalone' | 'replica' | 'learner';
  prefix: string;
  snapshotPath: string | null;
  snapshotIntervalMs: number;
  quiet: boolean;
}

const DEFAULTS: Omit<ServeConfig, 'model'> & { model: string | null } = {
  model: null,
  port: 8080,
  host: '127.0.0.1',
  backend: 'auto',
  unknownUser: 'popularity',
  online: {},
  maxBody: 1 << 20,
  maxK: 1000,
  snapshotOnExit: null,
  watch: false,
  redis: null,
  role: 'standalone',
  prefix: 'gnnrl',
  snapshotPath: null,
  snapshotIntervalMs: 10_000,
  quiet: false,
};

const ONLINE_KEYS = ['intervalMs', 'maxBatch', 'maxQueue', 'newItems', 'positiveRating', 'trainConfidence', 'observedConfidence', 'w0', 'lambda'];

function parseOnline(raw: unknown, where: string): OnlineOptions {
  let v = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch (e) {
      throw new UsageError(`${where}: not valid JSON: ${(e as Error).message}`, where);
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${where}: expected a JSON object, e.g. '{"intervalMs":100,"observedConfidence":4}'`, where);
  for (const [k, x] of Object.entries(v)) {
    if (!ONLINE_KEYS.includes(k)) throw new UsageError(`${where}: unknown key '${k}' (valid: ${ONLINE_KEYS.join(', ')})`, where);
    if (k === 'newItems' ? typeof x !== 'boolean' : !(typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      throw new UsageError(`${where}: ${k}: expected ${k === 'newItems' ? 'true or false' : 'a number >= 0'}, got ${JSON.stringify(x)}`, where);
    }
  }
  return v as OnlineOptions;
}

const OPTIONS: OptionSpec[] = [
  { flag: 'model', key: 'model', value: 'FILE', defaultText: '', help: 'a checkpoint written by `gnnrl train` (run/<model>/best.ckpt) or a snapshot', parse: (r, w) => parseString(r, w, 'a file path') },
  { flag: 'port', key: 'port', value: 'N', defaultText: String(DEFAULTS.port), help: 'TCP port (0 picks a free one)', parse: (r, w) => parseInt32(r, w, 0, 65535) },
  { flag: 'host', key: 'host', value: 'ADDR', defaultText: DEFAULTS.host, help: 'address to bind (0.0.0.0 for every interface)', parse: (r, w) => parseString(r, w, 'an address') },
  { flag: 'backend', key: 'backend', value: 'NAME', defaultText: DEFAULTS.backend, help: 'auto | webgpu | native | cpu (GNNRL_BACKEND overrides)', parse: (r, w) => parseChoice(r, w, BACKEND_CHOICES) },
  { flag: 'unknown-user', key: 'unknownUser', value: 'POLICY', defaultText: DEFAULTS.unknownUser, help: 'popularity (answer with popular items) | error (404)', parse: (r, w) => parseChoice(r, w, ['popularity', 'error'] as const) },
  { flag: 'online-options', key: 'online', value: 'JSON', defaultText: '', help: `online updates: ${ONLINE_KEYS.join(', ')}`, parse: parseOnline },
  { flag: 'max-body', key: 'maxBody', value: 'BYTES', defaultText: String(DEFAULTS.maxBody), help: 'largest request body (413 beyond)', parse: (r, w) => parseInt32(r, w, 64) },
  { flag: 'max-k', key: 'maxK', value: 'N', defaultText: String(DEFAULTS.maxK), help: 'largest k a request may ask for', parse: (r, w) => parseInt32(r, w, 1) },
  { flag: 'snapshot-on-exit', key: 'snapshotOnExit', value: 'FILE', defaultText: '', help: 'on SIGTERM/Ctrl-C, flush feedback and write a snapshot here', parse: (r, w) => parseString(r, w, 'a file path') },
  { flag: 'watch', key: 'watch', boolean: true, defaultText: 'off', help: 'reload --model when the file changes (as on SIGHUP)', parse: parseBool },
  { flag: 'redis', key: 'redis', value: 'URL', defaultText: '', help: 'Redis for scale-out (redis://host:port); needs --role replica or learner', parse: (r, w) => parseString(r, w, 'a redis:// URL') },
  { flag: 'role', key: 'role', value: 'ROLE', defaultText: DEFAULTS.role, help: 'standalone | replica (publish feedback, follow snapshots) | learner (consume feedback, publish snapshots)', parse: (r, w) => parseChoice(r, w, ['standalone', 'replica', 'learner'] as const) },
  { flag: 'prefix', key: 'prefix', value: 'NAME', defaultText: DEFAULTS.prefix, help: 'Redis key prefix of the streams', parse: (r, w) => parseString(r, w, 'a key prefix') },
  { flag: 'snapshot-path', key: 'snapshotPath', value: 'TEMPLATE', defaultText: '<model dir>/snapshot-{version}.gnnrl', help: "learner: where snapshots go (on storage the replicas read); must contain {version}", parse: (r, w) => parseString(r, w, 'a path template with {version}') },
  { flag: 'snapshot-interval', key: 'snapshotIntervalMs', value: 'MS', defaultText: '10000', help: 'learner: publish a snapshot at most this long after the first feedback not yet in one', parse: (r, w) => parseInt32(r, w, 10) },
  { flag: 'config', key: 'config', value: 'FILE', defaultText: '', flagOnly: true, help: 'JSON file with any of these options as keys; flags override it', parse: (r, w) => parseString(r, w, 'a file path') },
  { flag: 'quiet', key: 'quiet', boolean: true, defaultText: 'off', help: 'no log lines on stderr', parse: parseBool },
  { flag: 'help', key: 'help', boolean: true, defaultText: '', flagOnly: true, help: 'this text', parse: parseBool },
];

export function serveHelp(): string {
  return formatHelp(
    'usage: gnnrl serve --model FILE [options]\n\nServes a trained model over HTTP: GET /recommend?user=U&k=K, POST /recommend {users,k},\nPOST /feedback {events}, GET /health, /ready, /metrics (Prometheus).',
    OPTIONS,
    'signals: SIGTERM/Ctrl-C stop gracefully, SIGHUP reloads --model\nexit codes: 0 stopped, 1 failed to load or listen, 2 bad options\n',
  );
}

export function parseServeArgs(argv: readonly string[]): { help: true } | { help: false; config: ServeConfig } {
  const r = resolveOptions(OPTIONS, argv, DEFAULTS);
  if (r.help) return { help: true };
  const c = r.config as unknown as ServeConfig;
  if (!c.model) throw new UsageError('--model: required (a checkpoint from `gnnrl train` or a snapshot)', '--model');
  if (!existsSync(c.model)) throw new UsageError(`--model: file not found: ${c.model}`, '--model');
  if (c.role !== 'standalone' && !c.redis) throw new UsageError(`--role ${c.role}: needs --redis URL`, '--redis');
  if (c.role === 'standalone' && c.redis) throw new UsageError('--redis: needs --role replica or --role learner', '--role');
  if (!/^rediss?:\/\//.test(c.redis ?? 'redis://')) throw new UsageError(`--redis: expected a redis:// URL, got ${JSON.stringify(c.redis)}`, '--redis');
  if (c.snapshotPath && !c.snapshotPath.includes('{version}')) throw new UsageError(`--snapshot-path: must contain {version}, got ${JSON.stringify(c.snapshotPath)}`, '--snapshot-path');
  return { help: false, config: c };
}

/** Runs `gnnrl serve`; resolves with the exit code once the server has stopped. */
export async function serveCommand(argv: readonly string[], io: TrainCommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let c: ServeConfig;
  try {
    const p = parseServeArgs(argv);
    if (p.help) {
      io.stdout.write(serveHelp());
      return 0;
    }
    c = p.config;
  } catch (err) {
    io.stderr.write(`gnnrl serve: ${(err as Error).message}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  const log = (s: string) => c.quiet || io.stderr.write(`gnnrl serve: ${s}\n`);
  let engine: Engine | undefined;
  let server: RecommendServer;
  let publisher: FeedbackPublisher | null = null;
  let follower: SnapshotFollower | null = null;
  let learner: Learner | null = null;
  try {
    engine = await Engine.create({ backend: c.backend, quiet: true });
    if (c.role === 'replica') publisher = await FeedbackPublisher.connect({ url: c.redis!, prefix: c.prefix });
    const pub = publisher;
    server = await RecommendServer.open(c.model, { engine, unknownUser: c.unknownUser, online: c.online, maxBodyBytes: c.maxBody, maxK: c.maxK, publish: pub ? (e) => pub.publish(e) : undefined });
    const srv = server;
    if (c.role === 'replica') {
      follower = await SnapshotFollower.start({ url: c.redis!, prefix: c.prefix, onSnapshot: async (path, version) => {
        await srv.reload(path);
        log(`loaded snapshot ${path} (v${version})`);
      } });
    }
    if (c.role === 'learner') {
      const snapshotPath = c.snapshotPath ?? join(dirname(c.model), 'snapshot-{version}.gnnrl');
      learner = await Learner.start({ url: c.redis!, prefix: c.prefix, recommender: srv.recommender, snapshotPath, snapshotIntervalMs: c.snapshotIntervalMs, onError: (e) => log(`learner: ${(e as Error).message}`) });
    }
    const addr = await server.listen(c.port, c.host);
    const rec = server.recommender;
    // The one line a supervisor (or a test) waits for.
    io.stdout.write(`listening on http://${addr.address}:${addr.port} (${rec.kind} v${rec.version}, ${rec.size.users} users × ${rec.size.items} items, ${rec.mode}, ${engine.backend}${c.role === 'standalone' ? '' : `, ${c.role} of ${c.redis}`})\n`);
  } catch (err) {
    io.stderr.write(`gnnrl serve: ${(err as Error).message}\n`);
    await follower?.stop().catch(() => undefined);
    await learner?.stop().catch(() => undefined);
    await publisher?.close().catch(() => undefined);
    engine?.dispose();
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const reload = () => {
      // A learner's Learner holds the recommender it folds feedback into: it restarts from a snapshot instead.
      if (c.role === 'learner') return void log('SIGHUP ignored in the learner role (restart it to load another model)');
      server.reload(c.model).then(
        (r) => log(`reloaded ${c.model} (v${r.version})`),
        (e) => log(`reload of ${c.model} failed, still serving the old model: ${(e as Error).message}`),
      );
    };
    const stop = () => {
      if (stopping) return;
      stopping = true;
      log('stopping: draining requests' + (c.snapshotOnExit ? `, then writing ${c.snapshotOnExit}` : ''));
      process.off('SIGHUP', reload);
      if (c.watch) unwatchFile(c.model);
      const brokers = async () => {
        await follower?.stop();
        await learner?.stop();
        await publisher?.close();
      };
      brokers().then(() => server.close({ snapshot: c.snapshotOnExit ?? undefined })).then(
        () => {
          engine!.dispose();
          log('stopped');
          resolve(0);
        },
        (e) => {
          io.stderr.write(`gnnrl serve: stopping failed: ${(e as Error).message}\n`);
          engine!.dispose();
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    process.on('SIGHUP', reload);
    if (c.watch) watchFile(c.model, { interval: 500 }, (cur, prev) => cur.mtimeMs !== prev.mtimeMs && cur.size > 0 && reload());
  });
}
