import { randomBytes } from 'node:crypto';

/** HTTP headers a file keeps (what Create File and Set File Properties set). */
export interface StoredFileHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  contentDisposition?: string;
  /** Base64 MD5 of the whole content, as the client declared it (the service stores, never computes it). */
  contentMD5?: string;
}

interface EntryBase {
  /** The path as created (case preserved), without leading or trailing slashes. */
  path: string;
  created: number;
  modified: number;
  etag: string;
  /** The SMB file id, a decimal 64-bit number as the service reports it. */
  fileId: string;
  metadata: Record<string, string>;
}

/** What Copy File left on its destination (Get File Properties reports it as x-ms-copy-*). */
export interface StoredFileCopy {
  id: string;
  /** The source URL as given (a share snapshot URL keeps its `sharesnapshot`). */
  source: string;
  status: 'success';
  progress: string;
  completed: number;
}

export interface StoredShareFile extends EntryBase {
  kind: 'file';
  content: Buffer;
  headers: StoredFileHeaders;
  copy?: StoredFileCopy;
}

export interface StoredShareDirectory extends EntryBase {
  kind: 'directory';
}

export type StoredShareEntry = StoredShareFile | StoredShareDirectory;

type SavedEntry = (Omit<StoredShareFile, 'content'> & { content: string }) | StoredShareDirectory;

/**
 * A read-only, point-in-time copy of a share (Snapshot Share, FileREST 2017-04-17 and later). Its
 * id is the DateTime the service returns in `x-ms-snapshot` and clients pass back as
 * `sharesnapshot`. ETag and Last-Modified are the base share's at the time it was taken, unless
 * the request gave metadata (ShareCreateSnapshotHeaders, @azure/storage-file-share 12.x docs).
 */
export interface StoredShareSnapshot {
  id: string;
  /** The share's name as created (case preserved). */
  share: string;
  created: number;
  etag: string;
  lastModified: number;
  metadata: Record<string, string>;
  /** Keyed like the live entries (account/share/path, lower case). Never modified after creation. */
  entries: Map<string, StoredShareEntry>;
}

interface SavedSnapshot extends Omit<StoredShareSnapshot, 'entries'> {
  account: string;
  entries: Array<[string, SavedEntry]>;
}

/** The store as the state file holds it (content as base64). */
export interface FileShareStoreData {
  entries: Array<[string, SavedEntry]>;
  /** Share snapshots; absent in state files saved before snapshots were simulated. */
  snapshots?: SavedSnapshot[];
}

/**
 * The share snapshot id format, `2026-12-03T13:00:00.0000000Z`: seven fractional digits (100 ns
 * ticks), as the service returns it in x-ms-snapshot (Snapshot Share, sample response).
 */
export function shareSnapshotId(ms: number, ticks = 0): string {
  return new Date(ms).toISOString().replace(/Z$/, `${String(ticks).padStart(4, '0')}Z`);
}

const saveEntry = (entry: StoredShareEntry): SavedEntry =>
  entry.kind === 'file'
    ? {
        ...entry,
        metadata: { ...entry.metadata },
        headers: { ...entry.headers },
        ...(entry.copy ? { copy: { ...entry.copy } } : {}),
        content: entry.content.toString('base64'),
      }
    : { ...entry, metadata: { ...entry.metadata } };

const loadEntry = (saved: SavedEntry): StoredShareEntry =>
  saved.kind === 'file'
    ? {
        ...saved,
        metadata: { ...saved.metadata },
        headers: { ...saved.headers },
        ...(saved.copy ? { copy: { ...saved.copy } } : {}),
        content: Buffer.from(saved.content, 'base64'),
      }
    : { ...saved, metadata: { ...saved.metadata } };

/** A deep copy: a snapshot shares no Buffer or object with the live share. */
const copyEntry = (entry: StoredShareEntry): StoredShareEntry =>
  entry.kind === 'file'
    ? {
        ...entry,
        metadata: { ...entry.metadata },
        headers: { ...entry.headers },
        ...(entry.copy ? { copy: { ...entry.copy } } : {}),
        content: Buffer.from(entry.content),
      }
    : { ...entry, metadata: { ...entry.metadata } };

const etagNow = () => `"0x${randomBytes(8).toString('hex').toUpperCase()}"`;
const newFileId = () => BigInt(`0x${randomBytes(8).toString('hex')}`).toString(10);

/** Normalises a path inside a share: no leading, trailing or doubled slashes. '' is the root. */
export function normaliseSharePath(path: string): string {
  return path
    .split('/')
    .filter((part) => part !== '')
    .join('/');
}

const parentOf = (path: string) => path.split('/').slice(0, -1).join('/');

/**
 * Files and directories on simulated Azure Files shares, by account, share and path. Paths are
 * case-insensitive and case-preserving, as on Azure Files. The Files data plane
 * (`fileDataPlane.ts`) serves this store over HTTPS; the sandbox and tests may also use it directly
 * (e.g. the rendered openclaw.json), and the OpenClaw stand-in reads it through the container app's
 * volume mounts. The root directory of a share is implicit; shares themselves live in ARM.
 */
export class FileShareStore {
  private readonly entries = new Map<string, StoredShareEntry>();
  /** Share snapshots by `account/share` (lower case), then by id. */
  private readonly snapshots = new Map<string, Map<string, StoredShareSnapshot>>();

  constructor(private readonly now: () => number = Date.now) {}

  private static key(account: string, share: string, path: string): string {
    return `${account.toLowerCase()}/${share.toLowerCase()}/${normaliseSharePath(path).toLowerCase()}`;
  }

  private static prefix(account: string, share?: string): string {
    return share === undefined
      ? `${account.toLowerCase()}/`
      : `${account.toLowerCase()}/${share.toLowerCase()}/`;
  }

  /** Writes a file, creating missing parent directories (like `mkdir -p`); keeps id and creation time. */
  write(
    account: string,
    share: string,
    path: string,
    content: string | Buffer,
    headers: StoredFileHeaders = {},
  ): StoredShareFile {
    const normalised = normaliseSharePath(path);
    if (normalised === '') throw new Error('A file needs a path inside the share.');
    this.ensureDirectories(account, share, parentOf(normalised));
    const existing = this.get(account, share, normalised);
    if (existing?.kind === 'directory') throw new Error(`${normalised} is a directory.`);
    const now = this.now();
    const file: StoredShareFile = {
      kind: 'file',
      path: existing?.path ?? normalised,
      content: Buffer.isBuffer(content) ? Buffer.from(content) : Buffer.from(content, 'utf8'),
      headers: { ...existing?.headers, ...headers },
      created: existing?.created ?? now,
      modified: now,
      etag: etagNow(),
      fileId: existing?.fileId ?? newFileId(),
      metadata: existing?.metadata ?? {},
    };
    this.entries.set(FileShareStore.key(account, share, normalised), file);
    return file;
  }

  /** A file's content as UTF-8 text; undefined for a missing file or a directory. */
  read(account: string, share: string, path: string): string | undefined {
    return this.readBytes(account, share, path)?.toString('utf8');
  }

  /** A file's content; undefined for a missing file or a directory. */
  readBytes(account: string, share: string, path: string): Buffer | undefined {
    const entry = this.get(account, share, path);
    return entry?.kind === 'file' ? entry.content : undefined;
  }

  /** Removes a file, or a directory with everything under it. */
  remove(account: string, share: string, path: string): void {
    const key = FileShareStore.key(account, share, path);
    this.entries.delete(key);
    for (const other of [...this.entries.keys()]) if (other.startsWith(`${key}/`)) this.entries.delete(other);
  }

  /** The live entries, or a snapshot's (empty when that snapshot does not exist). */
  private entriesOf(account: string, share: string, snapshot?: string): Map<string, StoredShareEntry> {
    if (snapshot === undefined) return this.entries;
    return this.getSnapshot(account, share, snapshot)?.entries ?? new Map();
  }

  /** The file or directory at `path` (not the implicit root), live or in a snapshot. */
  get(account: string, share: string, path: string, snapshot?: string): StoredShareEntry | undefined {
    return this.entriesOf(account, share, snapshot).get(FileShareStore.key(account, share, path));
  }

  /** Whether `path` is a directory; the root ('') always is. */
  isDirectory(account: string, share: string, path: string, snapshot?: string): boolean {
    return normaliseSharePath(path) === '' || this.get(account, share, path, snapshot)?.kind === 'directory';
  }

  /** Creates one directory; the caller checks that the parent exists and the name is free. */
  createDirectory(
    account: string,
    share: string,
    path: string,
    metadata: Record<string, string> = {},
  ): StoredShareDirectory {
    const normalised = normaliseSharePath(path);
    const now = this.now();
    const directory: StoredShareDirectory = {
      kind: 'directory',
      path: normalised,
      created: now,
      modified: now,
      etag: etagNow(),
      fileId: newFileId(),
      metadata,
    };
    this.entries.set(FileShareStore.key(account, share, normalised), directory);
    return directory;
  }

  /** Creates every missing directory along `path` (the root always exists). */
  ensureDirectories(account: string, share: string, path: string): void {
    const parts = normaliseSharePath(path).split('/').filter(Boolean);
    for (let index = 1; index <= parts.length; index += 1) {
      const partial = parts.slice(0, index).join('/');
      const existing = this.get(account, share, partial);
      if (existing?.kind === 'file') throw new Error(`${partial} is a file.`);
      if (!existing) this.createDirectory(account, share, partial);
    }
  }

  /**
   * Creates (or replaces) an empty file of `size` zero bytes, as Create File does; keeps the id and
   * creation time of a file it replaces. The caller checks the parent.
   */
  createFile(
    account: string,
    share: string,
    path: string,
    size: number,
    headers: StoredFileHeaders,
    metadata: Record<string, string>,
  ): StoredShareFile {
    const normalised = normaliseSharePath(path);
    const existing = this.get(account, share, normalised);
    const now = this.now();
    const file: StoredShareFile = {
      kind: 'file',
      path: normalised,
      content: Buffer.alloc(size),
      headers,
      created: existing?.created ?? now,
      modified: now,
      etag: etagNow(),
      fileId: existing?.fileId ?? newFileId(),
      metadata,
    };
    this.entries.set(FileShareStore.key(account, share, normalised), file);
    return file;
  }

  /** Marks an entry changed after its content or properties were modified in place. */
  touch(entry: StoredShareEntry): void {
    entry.modified = this.now();
    entry.etag = etagNow();
  }

  /** The entries directly inside a directory ('' is the root), sorted by name; live or in a snapshot. */
  list(account: string, share: string, directory: string, snapshot?: string): StoredShareEntry[] {
    const parent = normaliseSharePath(directory).toLowerCase();
    return [...this.entriesOf(account, share, snapshot)]
      .filter(
        ([key, entry]) =>
          key.startsWith(FileShareStore.prefix(account, share)) &&
          parentOf(entry.path).toLowerCase() === parent,
      )
      .map(([, entry]) => entry)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every file of a share or of one of its snapshots (paths), for tests and tools. */
  filePaths(account: string, share: string, snapshot?: string): string[] {
    return [...this.entriesOf(account, share, snapshot)]
      .filter(
        ([key, entry]) => key.startsWith(FileShareStore.prefix(account, share)) && entry.kind === 'file',
      )
      .map(([, entry]) => entry.path)
      .sort();
  }

  /** Bytes used by a share's files. */
  usage(account: string, share: string): number {
    let bytes = 0;
    for (const [key, entry] of this.entries) {
      if (entry.kind === 'file' && key.startsWith(FileShareStore.prefix(account, share)))
        bytes += entry.content.length;
    }
    return bytes;
  }

  /**
   * Drops a share's content and snapshots (the share was deleted), or a whole account's. Deleting a
   * share deletes its snapshots with it (Delete Share with `x-ms-delete-snapshots: include`; ARM
   * File Shares - Delete, whose `$include` defaults to `snapshots`); the callers check first.
   */
  drop(account: string, share?: string): void {
    const prefix = FileShareStore.prefix(account, share);
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
    for (const key of [...this.snapshots.keys()])
      if (`${key}/`.startsWith(prefix)) this.snapshots.delete(key);
  }

  /**
   * Takes a share snapshot: a deep copy of every file and directory of the share, frozen from then
   * on. The id is the simulator clock's time in the service's format; two snapshots of one share
   * in the same clock tick get ids 100 ns apart, because an id names one snapshot (x-ms-snapshot
   * "uniquely identifies the share snapshot", ShareCreateSnapshotHeaders). The caller checks the
   * per-share limit.
   */
  createSnapshot(
    account: string,
    share: string,
    base: { etag: string; lastModified: number; metadata: Record<string, string> },
  ): StoredShareSnapshot {
    const shareKey = FileShareStore.prefix(account, share).slice(0, -1);
    const existing = this.snapshots.get(shareKey) ?? new Map<string, StoredShareSnapshot>();
    const now = this.now();
    let ticks = 0;
    while (existing.has(shareSnapshotId(now, ticks))) ticks += 1;
    const prefix = FileShareStore.prefix(account, share);
    const entries = new Map<string, StoredShareEntry>();
    for (const [key, entry] of this.entries) if (key.startsWith(prefix)) entries.set(key, copyEntry(entry));
    const snapshot: StoredShareSnapshot = {
      id: shareSnapshotId(now, ticks),
      share,
      created: now,
      etag: base.etag,
      lastModified: base.lastModified,
      metadata: { ...base.metadata },
      entries,
    };
    existing.set(snapshot.id, snapshot);
    this.snapshots.set(shareKey, existing);
    return snapshot;
  }

  /** A share's snapshots, oldest first (List Shares lists them "from oldest to newest"). */
  snapshotsOf(account: string, share: string): StoredShareSnapshot[] {
    const shareKey = FileShareStore.prefix(account, share).slice(0, -1);
    return [...(this.snapshots.get(shareKey)?.values() ?? [])].sort((a, b) =>
      a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
    );
  }

  getSnapshot(account: string, share: string, id: string): StoredShareSnapshot | undefined {
    return this.snapshots.get(FileShareStore.prefix(account, share).slice(0, -1))?.get(id);
  }

  /** Deletes one snapshot; false when there was none with that id. */
  deleteSnapshot(account: string, share: string, id: string): boolean {
    const shareKey = FileShareStore.prefix(account, share).slice(0, -1);
    const existing = this.snapshots.get(shareKey);
    const deleted = existing?.delete(id) ?? false;
    if (existing?.size === 0) this.snapshots.delete(shareKey);
    return deleted;
  }

  /** Every file and directory with content (base64), and every snapshot, for the state file. */
  exportState(): FileShareStoreData {
    return {
      entries: [...this.entries].map(([key, entry]) => [key, saveEntry(entry)]),
      snapshots: [...this.snapshots].flatMap(([shareKey, byId]) =>
        [...byId.values()].map((snapshot) => ({
          ...snapshot,
          account: shareKey.split('/')[0] ?? '',
          metadata: { ...snapshot.metadata },
          entries: [...snapshot.entries].map(
            ([key, entry]) => [key, saveEntry(entry)] as [string, SavedEntry],
          ),
        })),
      ),
    };
  }

  /**
   * Replaces everything with saved data. Also reads the earlier layout (a list of
   * `["account/share/path", text]`), whose directories were implicit.
   */
  importState(data: FileShareStoreData | [string, string][]): void {
    this.entries.clear();
    this.snapshots.clear();
    if (Array.isArray(data)) {
      for (const [key, content] of data) {
        const [account = '', share = '', ...rest] = key.split('/');
        this.write(account, share, rest.join('/'), content);
      }
      return;
    }
    for (const [key, saved] of data.entries) this.entries.set(key, loadEntry(saved));
    for (const saved of data.snapshots ?? []) {
      const { account, entries, ...rest } = saved;
      const shareKey = FileShareStore.prefix(account, saved.share).slice(0, -1);
      const byId = this.snapshots.get(shareKey) ?? new Map<string, StoredShareSnapshot>();
      byId.set(saved.id, {
        ...rest,
        metadata: { ...saved.metadata },
        entries: new Map(entries.map(([key, entry]) => [key, loadEntry(entry)])),
      });
      this.snapshots.set(shareKey, byId);
    }
  }

  /** Paths, kinds and sizes only (never content: files may hold secrets). */
  snapshot(): unknown {
    return [...this.entries].map(([key, entry]) => ({
      path: key,
      kind: entry.kind,
      ...(entry.kind === 'file' ? { length: entry.content.length } : {}),
    }));
  }
}
