/**
 * Errors that WebGPU reports asynchronously (compile info, error scopes, mapping), kept
 * to be thrown at the next sync point of the runtime, with the kernel named. The most
 * telling one wins: a WGSL compile message (with file and line) beats the follow-on
 * "invalid due to a previous error" reports that Dawn raises for the pipelines and
 * passes built on the broken module.
 */
import { GnnrlError } from '../errors.js';
import { waitFor } from './waits.js';

export class DeferredErrors {
  private deferred: GnnrlError | null = null;
  private readonly inflight = new Set<Promise<void>>();

  /** Watches a check: a rejection becomes a deferred 'gpu' error. */
  track(p: Promise<void>): void {
    const guarded = p.catch((err) => this.defer(err instanceof GnnrlError ? err : new GnnrlError('gpu', String(err?.message ?? err), { cause: err })));
    this.inflight.add(guarded);
    void guarded.finally(() => this.inflight.delete(guarded));
  }

  defer(err: GnnrlError): void {
    const rank = (e: GnnrlError) => (/invalid due to a previous error/.test(e.message) ? 0 : e.code === 'shader' && /compile error/.test(e.message) ? 2 : 1);
    if (!this.deferred || rank(err) > rank(this.deferred)) this.deferred = err;
  }

  /** Waits for pending checks and throws the error they found, if any. */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await waitFor(Promise.all([...this.inflight]));
    this.throwDeferred();
  }

  /** Waits for pending checks without throwing (teardown). */
  async drain(): Promise<void> {
    await waitFor(Promise.allSettled([...this.inflight]));
  }

  throwDeferred(): void {
    if (this.deferred) {
      const e = this.deferred;
      this.deferred = null;
      throw e;
    }
  }
}
