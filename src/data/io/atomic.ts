/**
 * Atomic file output: everything is written to a temporary file next to the target (same
 * directory, so the rename never crosses a filesystem), the file is fsynced, renamed over
 * the target, and then the directory is fsynced so the rename itself is durable. A reader
 * never sees a half-written file, and a crash or power loss leaves the old file, or the
 * complete new one, in place (never an empty or partial one under the target's name).
 */
import { open, rename, unlink, mkdir, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export class AtomicWriter {
  private pending: string[] = [];
  private pendingLength = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
    private readonly encoding: 'utf8' | 'latin1',
  ) {}

  static async open(path: string, encoding: 'utf8' | 'latin1' = 'utf8'): Promise<AtomicWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w');
    return new AtomicWriter(path, tmp, fh, encoding);
  }

  /** Buffers text; flushes in ~1 MiB writes so many small rows cost few syscalls. */
  async write(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= 1 << 20) await this.flush();
  }

  async writeBytes(bytes: Uint8Array): Promise<void> {
    await this.flush();
    await this.fh.write(bytes);
  }

  private async flush(): Promise<void> {
    if (this.pendingLength === 0) return;
    const buf = Buffer.from(this.pending.join(''), this.encoding);
    this.pending = [];
    this.pendingLength = 0;
    await this.fh.write(buf);
  }

  /** Flushes, closes and renames over the target. */
  async commit(): Promise<void> {
    try {
      await this.flush();
      await this.fh.sync();
      await this.fh.close();
      this.closed = true;
      await rename(this.tmp, this.path);
      await syncDir(dirname(this.path));
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drops the temporary file; the target is untouched. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await unlink(this.tmp).catch(() => undefined);
  }
}

/**
 * fsyncs a directory so a rename in it survives a crash. Platforms that cannot open or
 * sync a directory (Windows: EISDIR/EPERM) are skipped: the rename has still happened.
 */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Writes a whole file atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, encoding: 'utf8' | 'latin1' = 'utf8'): Promise<void> {
  const w = await AtomicWriter.open(path, encoding);
  try {
    if (typeof data === 'string') await w.write(data);
    else await w.writeBytes(data);
  } catch (err) {
    await w.abort();
    throw err;
  }
  await w.commit();
}
