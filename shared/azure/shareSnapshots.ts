import type {
  ShareClient,
  ShareDirectoryClient,
  ShareFileClient,
  ShareServiceClient,
} from '@azure/storage-file-share';
import { BrokerError, ErrorCodes } from '../errors.js';
import { azureFailureOf, isNotFound, statusOf } from './azureErrors.js';

/**
 * Share snapshots of a slug's Azure Files state share, and restoring the live share from one.
 * An upgrade snapshots the share while the gateway is stopped (OpenClaw migrates its state forward
 * at start and an older build refuses a newer schema, so a copy taken while stopped is the only way
 * back) and restores it on rollback. Every function takes a Shared Key client built by
 * `fileServiceClient`; no URL, key or signature leaves this file: failures are rethrown as
 * `AzureFilesError`, which keeps Azure's code, status and a trimmed message only.
 */

/** Metadata on every snapshot the broker takes; pruning deletes only snapshots that carry it. */
export const BROKER_SNAPSHOT_METADATA = { takenby: 'claw-broker' } as const;

/**
 * A share snapshot id as the service returns it in x-ms-snapshot and takes in `sharesnapshot`:
 * an ISO 8601 UTC DateTime with up to 7 fractional digits (Snapshot Share).
 */
const SNAPSHOT_ID = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/;

/** Copy File may answer `pending` and finish later (Copy File): poll its status this often. */
const COPY_POLL_MS = 500;
/** A state file is small; a copy still pending after this long is a failure of the restore. */
const COPY_TIMEOUT_MS = 5 * 60 * 1000;

/** An Azure Files call failed; Azure's code and status, a message without secrets. */
export class AzureFilesError extends Error {
  override readonly name = 'AzureFilesError';
  constructor(
    readonly code: string,
    message: string,
    /** `statusCode`, as on the SDK's RestError, so `statusOf`, `isNotFound` and `isTransient` read it. */
    readonly statusCode?: number,
  ) {
    super(message);
  }
}

export function isAzureFilesError(error: unknown): error is AzureFilesError {
  return error instanceof Error && error.name === 'AzureFilesError';
}

/**
 * Runs one Azure Files call and rethrows its failure reduced to code, status and message: the
 * SDK's RestError carries the request, whose Authorization header holds a Shared Key signature.
 * Long base64 runs are cut from the message too (an authentication failure can quote a signature).
 */
async function filesCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isAzureFilesError(error) || error instanceof BrokerError) throw error;
    const failure = azureFailureOf(error);
    const status = statusOf(error);
    const message = failure.message.replace(/[A-Za-z0-9+/]{32,}={0,2}/g, '[redacted]');
    throw new AzureFilesError(failure.code, `${what}: ${failure.code}: ${message}`, status);
  }
}

/** A path inside the share for a message: quoted, bounded (the share's names are the tenant's). */
const shown = (path: string) => JSON.stringify(path.length > 200 ? `${path.slice(0, 200)}…` : path);

function requireSnapshotId(snapshot: string): void {
  if (!SNAPSHOT_ID.test(snapshot))
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `${shown(snapshot)} is not a share snapshot id (an ISO 8601 UTC time such as 2026-12-03T13:00:00.0000000Z)`,
    );
}

export interface ShareSnapshot {
  /** The snapshot id (the service's DateTime). */
  id: string;
  metadata: Record<string, string>;
  /** Whether the broker took it (its metadata carries BROKER_SNAPSHOT_METADATA). */
  takenByBroker: boolean;
}

/**
 * Takes a snapshot of the share and returns its id. Not idempotent by nature (every call makes a
 * new snapshot): a caller that may run twice records the id and lists before taking another
 * (`listShareSnapshots` with the metadata it passed here), or accepts a spare one that pruning
 * removes later. `metadata` (names are C# identifiers, lower case here) is stored with it.
 */
export async function snapshotShare(
  share: ShareClient,
  metadata: Record<string, string> = {},
): Promise<string> {
  const taken = await filesCall(`snapshot of share ${share.name}`, () =>
    share.createSnapshot({ metadata: { ...metadata, ...BROKER_SNAPSHOT_METADATA } }),
  );
  if (!taken.snapshot)
    throw new AzureFilesError('NoSnapshotId', `snapshot of share ${share.name}: no id returned`);
  return taken.snapshot;
}

/** A key naming one snapshot a caller means to take once (a request id and step, for example). */
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Takes a snapshot of the share once per `key`: when a broker snapshot carrying that key exists
 * already (a first run took it, then crashed before recording the id), its id is returned and no
 * new snapshot is taken. For a step that must be safe to run twice, while nothing writes to the
 * share (the gateway is stopped), so the snapshot found is the one the step would take now.
 */
export async function snapshotShareOnce(
  service: ShareServiceClient,
  shareName: string,
  key: string,
  metadata: Record<string, string> = {},
): Promise<{ id: string; taken: boolean }> {
  if (!IDEMPOTENCY_KEY.test(key))
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `${shown(key)} is not a snapshot key (1 to 200 letters, digits and . _ : -)`,
    );
  const existing = (await listShareSnapshots(service, shareName)).find(
    (snapshot) => snapshot.takenByBroker && snapshot.metadata['snapshotkey'] === key,
  );
  if (existing) return { id: existing.id, taken: false };
  const id = await snapshotShare(service.getShareClient(shareName), { ...metadata, snapshotkey: key });
  return { id, taken: true };
}

/**
 * The share's snapshots, oldest first. List Shares returns them oldest to newest; they are sorted
 * here anyway (the ids are fixed-width UTC times), so nothing depends on the listing's order.
 */
export async function listShareSnapshots(
  service: ShareServiceClient,
  shareName: string,
): Promise<ShareSnapshot[]> {
  return filesCall(`listing snapshots of share ${shareName}`, async () => {
    const found: ShareSnapshot[] = [];
    for await (const item of service.listShares({
      prefix: shareName,
      includeSnapshots: true,
      includeMetadata: true,
    })) {
      if (item.name !== shareName || !item.snapshot) continue;
      const metadata = item.metadata ?? {};
      found.push({
        id: item.snapshot,
        metadata,
        takenByBroker: metadata['takenby'] === BROKER_SNAPSHOT_METADATA.takenby,
      });
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  });
}

/** Deletes one snapshot of the share. Safe to run twice: a snapshot already gone is `deleted: false`. */
export async function deleteShareSnapshot(
  share: ShareClient,
  snapshot: string,
): Promise<{ deleted: boolean }> {
  requireSnapshotId(snapshot);
  return filesCall(`deleting snapshot ${snapshot} of share ${share.name}`, async () => {
    try {
      await share.withSnapshot(snapshot).delete();
      return { deleted: true };
    } catch (error) {
      if (isNotFound(error)) return { deleted: false };
      throw error;
    }
  });
}

export interface PruneShareSnapshotsOptions {
  /** How many of the broker's snapshots to keep, newest first (at least 1). */
  keep: number;
  /** Snapshot ids never deleted, whatever their age (an upgrade in flight still needs its own). */
  protect?: readonly string[];
}

/**
 * Deletes the broker's snapshots of the share beyond the newest `keep`. Snapshots the broker did
 * not take (Azure Backup's, an operator's) are never touched, nor protected ones. Safe to run
 * twice. Returns the ids deleted.
 */
export async function pruneShareSnapshots(
  service: ShareServiceClient,
  shareName: string,
  options: PruneShareSnapshotsOptions,
): Promise<string[]> {
  if (!Number.isSafeInteger(options.keep) || options.keep < 1)
    throw new BrokerError(
      ErrorCodes.BadRequest,
      `keep must be a whole number of at least 1, not ${options.keep}`,
    );
  const protect = new Set(options.protect ?? []);
  const ours = (await listShareSnapshots(service, shareName)).filter((snapshot) => snapshot.takenByBroker);
  const doomed = ours.slice(0, Math.max(0, ours.length - options.keep)).filter((s) => !protect.has(s.id));
  const share = service.getShareClient(shareName);
  const deleted: string[] = [];
  for (const snapshot of doomed) {
    if ((await deleteShareSnapshot(share, snapshot.id)).deleted) deleted.push(snapshot.id);
  }
  return deleted;
}

interface Tree {
  /** Directory paths ('' is the root, never listed), exact case. */
  directories: string[];
  files: string[];
}

/** Every directory and file under the root of a share (or of a snapshot), depth first. */
async function treeOf(root: ShareDirectoryClient): Promise<Tree> {
  const tree: Tree = { directories: [], files: [] };
  const walk = async (directory: ShareDirectoryClient, path: string): Promise<void> => {
    for await (const item of directory.listFilesAndDirectories()) {
      const child = path ? `${path}/${item.name}` : item.name;
      if (item.kind === 'directory') {
        tree.directories.push(child);
        await walk(directory.getDirectoryClient(item.name), child);
      } else tree.files.push(child);
    }
  };
  await walk(root, '');
  return tree;
}

const depth = (path: string) => path.split('/').length;

function fileClient(root: ShareDirectoryClient, path: string): ShareFileClient {
  const segments = path.split('/');
  const name = segments.pop()!;
  let directory = root;
  for (const segment of segments) directory = directory.getDirectoryClient(segment);
  return directory.getFileClient(name);
}

function directoryClient(root: ShareDirectoryClient, path: string): ShareDirectoryClient {
  let directory = root;
  for (const segment of path.split('/')) directory = directory.getDirectoryClient(segment);
  return directory;
}

/** Ignores the answer that means "already as wanted": the step may be running for the second time. */
async function unless<T>(statuses: number[], call: () => Promise<T>): Promise<void> {
  try {
    await call();
  } catch (error) {
    const status = statusOf(error);
    if (status === undefined || !statuses.includes(status)) throw error;
  }
}

/** Server-side Copy File from the snapshot's file onto the live one, waited for when pending. */
async function copyFromSnapshot(
  target: ShareFileClient,
  source: ShareFileClient,
  options: RestoreShareOptions,
): Promise<void> {
  // Same account, Shared Key: the source needs no SAS (Copy File), so its URL carries no secret.
  const started = await target.startCopyFromURL(source.url);
  let status = started.copyStatus;
  const deadline = Date.now() + (options.copyTimeoutMs ?? COPY_TIMEOUT_MS);
  while (status === 'pending') {
    if (Date.now() > deadline)
      throw new AzureFilesError('CopyTimedOut', 'a copy from the snapshot stayed pending');
    await new Promise((resolve) => setTimeout(resolve, options.copyPollMs ?? COPY_POLL_MS));
    const properties = await target.getProperties();
    // Another copy (a second run) may have replaced ours; its outcome is what the file holds.
    status = properties.copyStatus;
  }
  if (status !== undefined && status !== 'success')
    throw new AzureFilesError('CopyFailed', `a copy from the snapshot ended ${status}`);
}

export interface RestoreShareOptions {
  copyPollMs?: number;
  copyTimeoutMs?: number;
  /** Called after each file is copied (tests use it to interrupt a restore midway). */
  onFileRestored?: (path: string) => void | Promise<void>;
}

export interface RestoreShareResult {
  filesCopied: number;
  directoriesCreated: number;
  filesDeleted: number;
  directoriesDeleted: number;
}

/**
 * Makes the live share equal to one of its snapshots: files and directories the snapshot does not
 * have are deleted, its directories are created, and every one of its files is copied over the
 * live one server side (Copy File from the snapshot URL; byte for byte, any content). Paths are
 * compared exactly, so a name whose case changed is deleted and recreated in the snapshot's case.
 *
 * Safe to run twice and after a crash midway: each pass lists both trees afresh and converges
 * from whatever state the last one left (a deletion or creation already done answers 404 or 409,
 * which is taken as done; a copy simply runs again). Nothing may write to the share meanwhile: the
 * caller stops the gateway first. The snapshot itself is never changed (it is read-only).
 */
export async function restoreShareFromSnapshot(
  share: ShareClient,
  snapshot: string,
  options: RestoreShareOptions = {},
): Promise<RestoreShareResult> {
  requireSnapshotId(snapshot);
  const frozen = share.withSnapshot(snapshot);
  return filesCall(`restoring share ${share.name} from snapshot ${snapshot}`, async () => {
    try {
      await frozen.getProperties();
    } catch (error) {
      if (isNotFound(error))
        throw new BrokerError(ErrorCodes.NotFound, `share ${share.name} has no snapshot ${snapshot}`);
      throw error;
    }
    const [wanted, live] = await Promise.all([
      treeOf(frozen.rootDirectoryClient),
      treeOf(share.rootDirectoryClient),
    ]);
    const wantedFiles = new Set(wanted.files);
    const wantedDirectories = new Set(wanted.directories);
    const result: RestoreShareResult = {
      filesCopied: 0,
      directoriesCreated: 0,
      filesDeleted: 0,
      directoriesDeleted: 0,
    };
    const root = share.rootDirectoryClient;

    // 1. What the snapshot does not have: files first, then directories deepest first (a
    // directory must be empty to be deleted, and a file inside one that goes is not wanted either).
    for (const path of live.files.filter((path) => !wantedFiles.has(path))) {
      await unless([404], () => fileClient(root, path).delete());
      result.filesDeleted += 1;
    }
    const extraDirectories = live.directories
      .filter((path) => !wantedDirectories.has(path))
      .sort((a, b) => depth(b) - depth(a));
    for (const path of extraDirectories) {
      await unless([404], () => directoryClient(root, path).delete());
      result.directoriesDeleted += 1;
    }

    // 2. The snapshot's directories, parents first; one that exists already is left as it is.
    const liveDirectories = new Set(live.directories);
    for (const path of [...wanted.directories].sort((a, b) => depth(a) - depth(b))) {
      if (liveDirectories.has(path)) continue;
      await unless([409], () => directoryClient(root, path).create());
      result.directoriesCreated += 1;
    }

    // 3. Every file, copied over whatever the live share holds at that path.
    const frozenRoot = frozen.rootDirectoryClient;
    for (const path of wanted.files) {
      await copyFromSnapshot(fileClient(root, path), fileClient(frozenRoot, path), options);
      result.filesCopied += 1;
      await options.onFileRestored?.(path);
    }
    return result;
  });
}
