import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * One sandbox per data directory. The lock is a file beside the directory (`<dir>.lock`, so
 * `--reset` does not remove it) holding the owner's pid; a lock whose process is gone is stale and
 * taken over. Two sandboxes on one directory would corrupt each other's Azurite and simulator state,
 * and a `--reset` would delete a running sandbox's data under it.
 */
export function lockDataDir(dataDir: string, port: number): { release(): void } {
  const path = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, port }));
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(path);
    if (owner && isAlive(owner.pid)) {
      throw new SandboxStartRefused(
        `another sandbox (pid ${owner.pid}${owner.port ? `, port ${owner.port}` : ''}) is using ${dataDir}; stop it first (Ctrl-C in its terminal), or give this one its own --data-dir. Nothing was changed.`,
      );
    }
    rmSync(path, { force: true }); // stale: its process is gone
  }
  throw new SandboxStartRefused(`could not take the lock ${path}; remove it if no sandbox is running`);
}

/** Refuses a port that is taken, in one line, before anything starts or is deleted. */
export async function assertPortFree(
  port: number,
  advice = 'stop it or pass --port <another>',
): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new SandboxStartRefused(
              `port ${port} is already in use (another sandbox, func start, or another program); ${advice}. Nothing was changed.`,
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

/** A start the sandbox refuses for a reason it states in one line: no stack trace, exit 1. */
export class SandboxStartRefused extends Error {
  override readonly name = 'SandboxStartRefused';
}

function readOwner(path: string): { pid: number; port?: number } | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown; port?: unknown };
    if (typeof owner.pid !== 'number') return undefined;
    return { pid: owner.pid, ...(typeof owner.port === 'number' ? { port: owner.port } : {}) };
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
