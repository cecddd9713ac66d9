/**
 * An agent's greedy policy as a `Ranker` (rank/types.ts), so the offline ranking metrics
 * of eval/ (precision, recall, NDCG, HR, MRR, MAP @K on a test split) score agents exactly
 * as they score models.
 *
 * For user u the agent sees the observation a deployed policy would see at the end of the
 * training log: u, and u's last `historyLen` training events as the history window
 * (items, ratings, times, oldest first). Its list is `agent.rank(obs, k, exclude)` with
 * the rows `recommend` is asked to exclude (evaluation excludes every training item of
 * the user). Agents without `rank` (the oracle, which needs the simulator's hidden state)
 * cannot be ranked.
 *
 * The agent ranks; it does not score pairs: `predict` is refused, `predictsRatings` is
 * false, and the scores returned with a list are its positions (k, k − 1, …, 1), which is
 * all that ranking metrics read.
 */
import { GnnrlError } from '../errors.js';
import { groupByUser, type Interactions } from '../data/interactions.js';
import { PositiveIndex } from '../data/negatives.js';
import { resolveExclusions } from '../rank/rank.js';
import type { Ranker, RecommendOptions, Recommendations } from '../rank/types.js';
import type { Agent, Observation } from './types.js';

export class AgentRanker implements Ranker {
  readonly predictsRatings = false;
  readonly nUsers: number;
  readonly nItems: number;
  private readonly seen: PositiveIndex;
  private readonly groups: { offsets: Int32Array; order: Int32Array };

  constructor(
    readonly agent: Agent,
    /** The log the agent's world was built on (the train part). */
    private readonly history: Interactions,
    private readonly historyLen: number,
  ) {
    if (!agent.rank) throw new GnnrlError('input', `${agent.kind}: has no greedy ranking (rank), so no ranking metrics`, { arg: 'agent' });
    this.nUsers = history.nUsers;
    this.nItems = history.nItems;
    this.seen = PositiveIndex.of(history);
    this.groups = groupByUser(history);
  }

  get name(): string {
    return this.agent.name;
  }

  async predict(): Promise<Float32Array> {
    throw new GnnrlError('state', `${this.agent.name}: an agent ranks items; it does not predict (user, item) scores`);
  }

  /** The observation of `users` at the end of the history log. */
  observationsFor(users: Int32Array): Observation {
    const B = users.length;
    const H = this.historyLen;
    const x = this.history;
    const items = new Int32Array(B * H).fill(-1);
    const ratings = new Float32Array(B * H);
    const times = new Float64Array(B * H);
    const count = new Int32Array(B);
    const { offsets, order } = this.groups;
    for (let b = 0; b < B; b++) {
      const u = users[b];
      if (!(u >= 0 && u < this.nUsers)) throw new GnnrlError('input', `${this.agent.name}: users[${b}]: expected a user in [0, ${this.nUsers}), got ${u}`, { arg: 'users', index: b });
      const lo = Math.max(offsets[u], offsets[u + 1] - H);
      const n = offsets[u + 1] - lo;
      count[b] = n;
      for (let j = 0; j < n; j++) {
        const e = order[lo + j];
        const at = b * H + H - n + j;
        items[at] = x.item[e];
        ratings[at] = x.rating ? x.rating[e] : 1;
        times[at] = x.ts ? x.ts[e] : j - n;
      }
    }
    return { batch: B, user: Int32Array.from(users), historyLen: H, historyItems: items, historyRatings: ratings, historyTimes: times, historyCount: count, stepInEpisode: new Int32Array(B), featureDim: 0, features: null };
  }

  async recommend(users: Int32Array, k: number, opts?: RecommendOptions): Promise<Recommendations> {
    if (!Number.isInteger(k) || k < 1 || k > this.nItems) throw new GnnrlError('input', `${this.agent.name}.recommend: k: expected an integer in [1, ${this.nItems}], got ${k}`, { arg: 'k' });
    const exclude = resolveExclusions(opts, this.seen, users) ?? { rowPtr: new Int32Array(users.length + 1), colIdx: new Int32Array(0) };
    const items = await this.agent.rank!(this.observationsFor(users), k, exclude);
    if (items.length !== users.length * k) throw new GnnrlError('state', `${this.agent.kind}.rank: expected ${users.length} × ${k} items, got ${items.length}`);
    const scores = new Float32Array(items.length);
    for (let b = 0; b < users.length; b++) for (let j = 0; j < k; j++) scores[b * k + j] = items[b * k + j] < 0 ? -Infinity : k - j;
    return { items, scores, k };
  }
}
