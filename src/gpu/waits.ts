/**
 * Cheap waits for Dawn's promises (see below): every wait of the WebGPU runtime goes
 * through `waitFor`, so awaiting the GPU neither spins a core nor stalls a service's
 * event loop.
 */
/*
 * While any Dawn promise is pending, dawn.node keeps a setImmediate callback queued that
 * polls the instance (ProcessEvents) and queues itself again, so a process that simply
 * awaits the GPU spins the event loop and holds one core at 100% — a core that a software
 * adapter (lavapipe) would compute with. Every wait of the runtime goes through `waitFor`
 * instead: one poller for the whole process that naps between those polls (Atomics.wait,
 * 0.05 ms doubling to 1 ms while the wait lasts) and yields to the event loop after every
 * nap, so Dawn's poll runs, and a service's timers and I/O still run within about a
 * millisecond.
 */
const NAP_FIRST_MS = 0.05;
const NAP_MAX_MS = 1;
const napCell = new Int32Array(new SharedArrayBuffer(4));
let waiters = 0;
let polling = false;
let napMs = NAP_FIRST_MS;

export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function poll(): Promise<void> {
  polling = true;
  try {
    await nextTurn(); // work that is already done resolves on the first poll, without a nap
    while (waiters > 0) {
      Atomics.wait(napCell, 0, 0, napMs);
      napMs = Math.min(NAP_MAX_MS, napMs * 2);
      await nextTurn();
    }
  } finally {
    polling = false;
  }
}

/** Awaits `p` (a Dawn promise, or one derived from them) without spinning a core. */
export async function waitFor<T>(p: Promise<T>): Promise<T> {
  waiters++;
  napMs = NAP_FIRST_MS;
  if (!polling) void poll();
  try {
    return await p;
  } finally {
    waiters--;
  }
}
