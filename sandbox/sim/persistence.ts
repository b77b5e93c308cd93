import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ArmStateData } from './arm/armState.js';
import type { BlobStoreData } from './blobDataPlane.js';
import type { SimClockMode } from './clock.js';
import type { IdentityDirectoryData } from './identity.js';
import type { KeyVaultStoreData } from './keyVaultStore.js';

export const stateFileFormat = 'claw-broker-simulator-state';
export const stateFileVersion = 1;

/**
 * The simulator's state file (JSON). It holds the simulated world with its (fake) secrets: client
 * secrets, Key Vault values, storage and workspace keys, the certificate's private key, the
 * webhook secret token. Faults, the request log and ARM throttling buckets are not kept.
 */
export interface SimulatorStateFile {
  format: typeof stateFileFormat;
  version: typeof stateFileVersion;
  tenantId: string;
  subscriptionId: string;
  broker: { clientId: string; clientSecret: string; objectId: string };
  certificate: { certPem: string; keyPem: string };
  /**
   * Listener ports: the main one, blob, Azure Files, and one per Key Vault (by lower-case vault
   * name). `file` is absent in files saved before the Files data plane existed.
   */
  ports: { main: number; blob: number; file?: number; vaults: Record<string, number> };
  core: {
    identity: IdentityDirectoryData;
    arm: ArmStateData;
    keyVault: KeyVaultStoreData;
    blob: BlobStoreData;
  };
  /** Surfaces (telegram, graph, openclaw) and other parts (files: the Azure Files content) by name. */
  parts: Record<string, unknown>;
  /** Simulated time at the save, and the wall clock then (real mode keeps the offset). */
  clock: { mode: SimClockMode; now: number; wallAt: number };
  /** Wall-clock time of the save (ISO 8601), for people. */
  savedAt: string;
}

export type StateFileLoad =
  { kind: 'missing' } | { kind: 'loaded'; state: SimulatorStateFile } | { kind: 'corrupt'; reason: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads and checks the state file's envelope. Never throws for a bad file: it says why instead. */
export async function loadStateFile(path: string): Promise<StateFileLoad> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'corrupt', reason: `cannot be read: ${(error as Error).message}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { kind: 'corrupt', reason: `is not valid JSON (${(error as Error).message})` };
  }
  if (!isObject(parsed) || parsed['format'] !== stateFileFormat) {
    return { kind: 'corrupt', reason: `is not a simulator state file (no "format": "${stateFileFormat}")` };
  }
  if (parsed['version'] !== stateFileVersion) {
    return {
      kind: 'corrupt',
      reason: `has version ${JSON.stringify(parsed['version'])}; this simulator reads version ${stateFileVersion}`,
    };
  }
  const missing = [
    'tenantId',
    'subscriptionId',
    'broker',
    'certificate',
    'ports',
    'core',
    'parts',
    'clock',
  ].filter((key) => parsed[key] === undefined);
  const core = parsed['core'];
  if (missing.length === 0 && isObject(core)) {
    missing.push(...['identity', 'arm', 'keyVault', 'blob'].filter((key) => core[key] === undefined));
  }
  if (missing.length > 0) return { kind: 'corrupt', reason: `lacks ${missing.join(', ')}` };
  return { kind: 'loaded', state: parsed as unknown as SimulatorStateFile };
}

/** Renames an unreadable state file out of the way (`<file>.corrupt-<time>`) and returns the new name. */
export async function moveStateFileAside(path: string): Promise<string> {
  const target = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(path, target);
  return target;
}

/** Writes `text` to `path` atomically: a temporary file in the same directory, then a rename. */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** What the writer saves: `key` changes exactly when the state does; `text` is the file content. */
export interface StateFileContent {
  key: string;
  text: string;
}

/**
 * Saves the simulator's state at most once per `intervalMs`, off the request path. `schedule()`
 * only arms a timer; the state is read when the timer fires, and written only if it changed since
 * the last write. Writes never overlap. Failures are reported through `log`, never thrown from a
 * scheduled save.
 */
export class StateFileWriter {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private lastKey: string | undefined;
  private lastWriteAt = 0;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly build: () => StateFileContent,
    private readonly intervalMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** The state written last (or loaded) has this key: nothing to write until it changes. */
  markSaved(key: string): void {
    this.lastKey = key;
  }

  schedule(): void {
    if (this.closed || this.timer) return;
    const wait = Math.max(0, this.lastWriteAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save().catch((error: unknown) => {
        this.log(`could not save the simulator state to ${this.path}: ${(error as Error).message}`);
      });
    }, wait);
    this.timer.unref();
  }

  /** Saves now (after any write in progress), if the state changed. */
  save(): Promise<void> {
    const next = this.chain.then(() => this.write());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Stops scheduling and saves one last time. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.save();
  }

  private async write(): Promise<void> {
    const content = this.build();
    if (content.key === this.lastKey) return;
    this.lastWriteAt = Date.now();
    await writeFileAtomically(this.path, content.text);
    this.lastKey = content.key;
  }
}
