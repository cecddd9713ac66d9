/**
 * Tabular Q-learning and SARSA on a recommendation environment: `TabularAgent` (the
 * textbook update, tabular.ts) behind a discretiser, so the batched `Agent` interface
 * drives it like any other policy.
 *
 * State (`GroupWindowDiscretizer`), from the observation alone:
 *   s = 0                                  no item in the history window yet;
 *   s = 1 + g·B + min(c, B) − 1            g = group of the last consumed item, c = how
 *                                          many of the window's items are in group g,
 *                                          bucketed into B = `buckets` levels (c ≥ B → B).
 * So nStates = 1 + G·B (16 groups × 3 buckets = 49 on the synthetic worlds). g says what
 * the user is into now; c is the observable face of the simulator's group fatigue.
 *
 * Action: an item group a ∈ [0, G). The slate shown for a is the `slateSize` most popular
 * items of group a in the log (`AgentContext.log`) outside the slot's history window,
 * topped up with the most popular items of any group when the group runs out.
 *
 * Limits, stated plainly: the state has no user identity and no satisfaction (the
 * simulator hides it), so the table learns a policy per "last group × fatigue" cell shared
 * by all users; inside a group it always shows the popular items, so it cannot learn which
 * item of a group suits a user; slates are single-group. It needs item groups from the
 * environment (the simulator's world, or the fitted simulator's clusters); log replay has
 * none and is refused. What it is for: a small, exact, inspectable baseline between the
 * fixed policies and DQN over the whole catalogue.
 *
 * Learning is on-line in `observe`: Q-learning updates every judged slot at once; SARSA
 * needs a′, the action taken in s′, so each slot's transition waits for the slot's next
 * `observe` (whose action is a′), and is learned then (or at once when it ended the
 * episode). Rows an environment skipped (log replay's `unknown: skip`) are not learned.
 */
import { GnnrlError, check } from '../../errors.js';
import type { Interactions } from '../../data/interactions.js';
import type { ModelState } from '../../models/types.js';
import type { ScheduleLike } from '../schedules.js';
import type { ActOptions, Agent, Environment, Observation, TransitionBatch, UpdateReport } from '../types.js';
import { historyExclusions, isExcluded, type ExclusionRows } from '../state/exclusions.js';
import { TabularAgent, type TabularMethod, type TabularState } from './tabular.js';

/** Maps observations to the discrete states described above. */
export class GroupWindowDiscretizer {
  readonly nGroups: number;
  readonly nStates: number;

  constructor(
    readonly itemGroup: Int32Array,
    readonly buckets = 3,
  ) {
    check(Number.isInteger(buckets) && buckets >= 1, 'buckets', `an integer >= 1, got ${buckets}`);
    let g = 0;
    for (let i = 0; i < itemGroup.length; i++) {
      check(Number.isInteger(itemGroup[i]) && itemGroup[i] >= 0, 'itemGroup', `group indices >= 0, got ${itemGroup[i]}`, i);
      g = Math.max(g, itemGroup[i] + 1);
    }
    this.nGroups = g;
    this.nStates = 1 + g * buckets;
  }

  /** The state of row b of `obs`. */
  state(obs: Observation, b: number): number {
    const H = obs.historyLen;
    const n = obs.historyCount[b];
    if (n === 0) return 0;
    const last = obs.historyItems[b * H + H - 1];
    const g = this.itemGroup[last];
    let c = 0;
    for (let j = H - n; j < H; j++) if (this.itemGroup[obs.historyItems[b * H + j]] === g) c++;
    return 1 + g * this.buckets + Math.min(c, this.buckets) - 1;
  }

  /** Human-readable meaning of state s (for reports and tests). */
  describe(s: number): string {
    if (s === 0) return 'empty window';
    const g = Math.floor((s - 1) / this.buckets);
    const c = ((s - 1) % this.buckets) + 1;
    return `last group ${g}, ${c}${c === this.buckets ? '+' : ''} of the window in it`;
  }
}

export interface TabularSlateOptions {
  method: TabularMethod;
  /** Step size α ∈ [0, 1] (constant or schedule of learn steps; default 0.1). */
  alpha?: ScheduleLike;
  /** Discount γ ∈ [0, 1] (default 0.9). */
  gamma?: number;
  /** ε ∈ [0, 1] (constant or schedule of learn steps; default 0.1). */
  epsilon?: ScheduleLike;
  /** Window-count buckets B (default 3). */
  buckets?: number;
  /** Initial Q (default 0). */
  initialQ?: number;
  seed?: number;
}

/** The environment's item groups, when it has them (the simulator's world; a fitted simulator's clusters). */
export function itemGroupsOf(env: Environment): Int32Array | null {
  const e = env as Environment & { itemGroup?: Int32Array; world?: { itemGroup?: Int32Array } };
  const g = e.itemGroup ?? e.world?.itemGroup;
  return g instanceof Int32Array && g.length === env.nItems ? g : null;
}

export class TabularSlateAgent implements Agent {
  readonly kind: TabularMethod;
  readonly name: string;
  readonly learns = true;
  readonly table: TabularAgent;
  readonly discretizer: GroupWindowDiscretizer;
  private readonly slateSize: number;
  private readonly nItems: number;
  /** Items of each group by descending log count (CSR over groups), then all items by count. */
  private readonly groupPtr: Int32Array;
  private readonly groupItems: Int32Array;
  private readonly byCount: Int32Array;
  /** SARSA: the slot's transition waiting for a′ (−1 when none). */
  private readonly pendS: Int32Array;
  private readonly pendA: Int32Array;
  private readonly pendR: Float64Array;
  private readonly pendS2: Int32Array;
  private absDelta = 0;
  private learned = 0;

  constructor(env: Environment, log: Interactions, opts: TabularSlateOptions) {
    const groups = itemGroupsOf(env);
    if (!groups) {
      throw new GnnrlError('input', `agent: ${opts.method}: environment ${env.name} has no item groups to discretise its state with (tabular agents run on sim: and fitted: environments)`, { arg: 'agent' });
    }
    check(log.nItems === env.nItems, 'log', `a log over the environment's ${env.nItems} items, got ${log.nItems}`);
    this.kind = opts.method;
    this.name = opts.method === 'qlearning' ? 'Q-learning' : 'SARSA';
    this.discretizer = new GroupWindowDiscretizer(groups, opts.buckets ?? 3);
    this.table = new TabularAgent({
      nStates: this.discretizer.nStates,
      nActions: this.discretizer.nGroups,
      alpha: opts.alpha ?? 0.1,
      gamma: opts.gamma ?? 0.9,
      epsilon: opts.epsilon ?? 0.1,
      method: opts.method,
      seed: opts.seed ?? 1,
      initialQ: opts.initialQ ?? 0,
    });
    this.slateSize = env.slateSize;
    this.nItems = env.nItems;
    const counts = new Float64Array(env.nItems);
    for (let j = 0; j < log.item.length; j++) counts[log.item[j]]++;
    this.byCount = Int32Array.from({ length: env.nItems }, (_, i) => i).sort((x, y) => counts[y] - counts[x] || x - y);
    const G = this.discretizer.nGroups;
    this.groupPtr = new Int32Array(G + 1);
    for (let i = 0; i < env.nItems; i++) this.groupPtr[groups[i] + 1]++;
    for (let g = 0; g < G; g++) this.groupPtr[g + 1] += this.groupPtr[g];
    const fill = this.groupPtr.slice(0, G);
    this.groupItems = new Int32Array(env.nItems);
    for (const i of this.byCount) this.groupItems[fill[groups[i]]++] = i;
    this.pendS = new Int32Array(env.batch).fill(-1);
    this.pendA = new Int32Array(env.batch);
    this.pendR = new Float64Array(env.batch);
    this.pendS2 = new Int32Array(env.batch);
  }

  /** The slate shown for group a in row b: the group's most popular items outside the window, topped up from all items. */
  slateFor(a: number, obs: Observation, b: number, rows = historyExclusions(obs), out = new Int32Array(this.slateSize), at = 0): Int32Array {
    const k = this.slateSize;
    let j = 0;
    const take = (list: Int32Array, lo: number, hi: number) => {
      for (let r = lo; r < hi && j < k; r++) {
        const i = list[r];
        if (isExcluded(rows, b, i)) continue;
        let dup = false;
        for (let q = 0; q < j && !dup; q++) dup = out[at + q] === i;
        if (!dup) out[at + j++] = i;
      }
    };
    take(this.groupItems, this.groupPtr[a], this.groupPtr[a + 1]);
    if (j < k) take(this.byCount, 0, this.byCount.length);
    if (j < k) throw new GnnrlError('input', `${this.kind}: slot ${b} has fewer than ${k} items outside its history`, { arg: 'slateSize' });
    return out;
  }

  async act(obs: Observation, opts: ActOptions): Promise<Int32Array> {
    const k = this.slateSize;
    const rows = historyExclusions(obs);
    const out = new Int32Array(obs.batch * k);
    for (let b = 0; b < obs.batch; b++) this.slateFor(this.table.act(this.discretizer.state(obs, b), opts.explore), obs, b, rows, out, b * k);
    return out;
  }

  /**
   * The greedy ranking of k items per slot (for ranking metrics): groups by descending
   * Q(s, ·), each group's popular items in turn, past the window.
   */
  async rank(obs: Observation, k: number, rows: ExclusionRows = historyExclusions(obs)): Promise<Int32Array> {
    check(Number.isInteger(k) && k >= 1 && k <= this.nItems, 'k', `an integer in [1, ${this.nItems}], got ${k}`);
    const A = this.discretizer.nGroups;
    const out = new Int32Array(obs.batch * k).fill(-1);
    const order = Int32Array.from({ length: A }, (_, a) => a);
    for (let b = 0; b < obs.batch; b++) {
      const s = this.discretizer.state(obs, b);
      const q = this.table.q.subarray(s * A, (s + 1) * A);
      order.sort((x, y) => q[y] - q[x] || x - y);
      let j = 0;
      for (const a of order) {
        for (let r = this.groupPtr[a]; r < this.groupPtr[a + 1] && j < k; r++) {
          const i = this.groupItems[r];
          if (!isExcluded(rows, b, i)) out[b * k + j++] = i;
        }
        if (j === k) break;
      }
    }
    return out;
  }

  observe(t: TransitionBatch): void {
    const { obs, actions, result } = t;
    const k = t.slateSize;
    const groups = this.discretizer.itemGroup;
    for (let b = 0; b < obs.batch; b++) {
      const s = this.discretizer.state(obs, b);
      // The slate came from one group (act), so its first item names the action.
      const a = groups[actions[b * k]];
      if (this.kind === 'sarsa' && this.pendS[b] >= 0) {
        // This step's action is a′ of the slot's waiting transition (its s′ is this s).
        this.learn(this.pendS[b], this.pendA[b], this.pendR[b], this.pendS2[b], a, false);
        this.pendS[b] = -1;
      }
      if (result.skipped[b]) continue;
      const done = result.done[b] === 1;
      const s2 = done ? 0 : this.discretizer.state(result.next, b);
      if (this.kind === 'qlearning' || done) {
        this.learn(s, a, result.reward[b], s2, null, done);
      } else {
        this.pendS[b] = s;
        this.pendA[b] = a;
        this.pendR[b] = result.reward[b];
        this.pendS2[b] = s2;
      }
    }
  }

  private learn(s: number, a: number, r: number, s2: number, a2: number | null, done: boolean): void {
    this.absDelta += Math.abs(this.table.learn(s, a, r, s2, a2, done));
    this.learned++;
  }

  /** Learning happens in `observe`; this reports it (mean |δ| since the last report) and resets the tally. */
  async update(): Promise<UpdateReport | null> {
    if (this.learned === 0) return null;
    const rep: UpdateReport = { loss: this.absDelta / this.learned, exploration: this.table.currentEpsilon(), extra: { updates: this.learned } };
    this.absDelta = 0;
    this.learned = 0;
    return rep;
  }

  /**
   * The table and its counters. Q is stored bit-exact (its float64 values as pairs of
   * int32 words), so `load` resumes exactly where `state` was taken.
   */
  async state(): Promise<ModelState> {
    const st = this.table.state();
    const { q, ...config } = st;
    return {
      kind: this.kind,
      config: { ...config, buckets: this.discretizer.buckets, nGroups: this.discretizer.nGroups, nItems: this.nItems, slateSize: this.slateSize },
      arrays: {
        qBits: new Int32Array(q.buffer.slice(q.byteOffset, q.byteOffset + q.byteLength)),
        // SARSA's transitions still waiting for a′ belong to the resumed run too.
        pendingS: this.pendS.slice(),
        pendingA: this.pendA.slice(),
        pendingRBits: new Int32Array(this.pendR.slice().buffer),
        pendingS2: this.pendS2.slice(),
      },
    };
  }

  load(state: ModelState): void {
    if (state?.kind !== this.kind) throw new GnnrlError('input', `${this.kind}: cannot load a '${state?.kind}' state`, { arg: 'state', field: 'kind' });
    const c = state.config as Record<string, unknown>;
    if (c.nItems !== this.nItems || c.nGroups !== this.discretizer.nGroups || c.buckets !== this.discretizer.buckets) {
      throw new GnnrlError('input', `${this.kind}: the state is for ${String(c.nItems)} items in ${String(c.nGroups)} groups × ${String(c.buckets)} buckets, this agent has ${this.nItems} items in ${this.discretizer.nGroups} × ${this.discretizer.buckets}`, { arg: 'state', field: 'nItems' });
    }
    const bits = state.arrays.qBits;
    if (!(bits instanceof Int32Array) || bits.length !== 2 * this.table.q.length) {
      throw new GnnrlError('input', `${this.kind}: state.arrays.qBits: expected ${2 * this.table.q.length} int32 words, got ${bits?.length}`, { arg: 'state', field: 'qBits' });
    }
    const q = new Float64Array(bits.buffer.slice(bits.byteOffset, bits.byteOffset + bits.byteLength));
    this.table.load({ ...(c as Omit<TabularState, 'q'>), kind: 'tabular', q });
    const { pendingS, pendingA, pendingRBits, pendingS2 } = state.arrays;
    if (pendingS instanceof Int32Array && pendingS.length === this.pendS.length && pendingA && pendingRBits && pendingS2) {
      this.pendS.set(pendingS);
      this.pendA.set(pendingA as Int32Array);
      this.pendR.set(new Float64Array((pendingRBits as Int32Array).slice().buffer));
      this.pendS2.set(pendingS2 as Int32Array);
    } else {
      // Saved for another batch size: the waiting transitions cannot be matched to slots.
      this.pendS.fill(-1);
    }
  }

  dispose(): void {}
}
