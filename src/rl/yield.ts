/**
 * Long interaction loops on the CPU backend never leave the microtask queue (every await
 * resolves at once), which starves timers, signal handlers (Ctrl-C) and test runners'
 * heartbeats. `Yielder.maybe()` gives the event loop one macrotask turn at most every
 * `everyMs` milliseconds: cheap enough to call every step.
 */
export class Yielder {
  private last = performance.now();

  constructor(private readonly everyMs = 50) {}

  async maybe(): Promise<void> {
    const now = performance.now();
    if (now - this.last < this.everyMs) return;
    this.last = now;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
