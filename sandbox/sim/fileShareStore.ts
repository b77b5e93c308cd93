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

export interface StoredShareFile extends EntryBase {
  kind: 'file';
  content: Buffer;
  headers: StoredFileHeaders;
}

export interface StoredShareDirectory extends EntryBase {
  kind: 'directory';
}

export type StoredShareEntry = StoredShareFile | StoredShareDirectory;

type SavedEntry = (Omit<StoredShareFile, 'content'> & { content: string }) | StoredShareDirectory;

/** The store as the state file holds it (content as base64). */
export interface FileShareStoreData {
  entries: Array<[string, SavedEntry]>;
}

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

  /** The file or directory at `path` (not the implicit root). */
  get(account: string, share: string, path: string): StoredShareEntry | undefined {
    return this.entries.get(FileShareStore.key(account, share, path));
  }

  /** Whether `path` is a directory; the root ('') always is. */
  isDirectory(account: string, share: string, path: string): boolean {
    return normaliseSharePath(path) === '' || this.get(account, share, path)?.kind === 'directory';
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

  /** The entries directly inside a directory ('' is the root), sorted by name. */
  list(account: string, share: string, directory: string): StoredShareEntry[] {
    const parent = normaliseSharePath(directory).toLowerCase();
    return [...this.entries]
      .filter(
        ([key, entry]) =>
          key.startsWith(FileShareStore.prefix(account, share)) &&
          parentOf(entry.path).toLowerCase() === parent,
      )
      .map(([, entry]) => entry)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** Every file of a share (paths), for tests and tools. */
  filePaths(account: string, share: string): string[] {
    return [...this.entries]
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

  /** Drops a share's content (the share was deleted), or a whole account's. */
  drop(account: string, share?: string): void {
    const prefix = FileShareStore.prefix(account, share);
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }

  /** Every file and directory with content (base64), for the state file. */
  exportState(): FileShareStoreData {
    return {
      entries: [...this.entries].map(([key, entry]) => [
        key,
        entry.kind === 'file'
          ? { ...entry, headers: { ...entry.headers }, content: entry.content.toString('base64') }
          : { ...entry },
      ]),
    };
  }

  /**
   * Replaces everything with saved data. Also reads the earlier layout (a list of
   * `["account/share/path", text]`), whose directories were implicit.
   */
  importState(data: FileShareStoreData | [string, string][]): void {
    this.entries.clear();
    if (Array.isArray(data)) {
      for (const [key, content] of data) {
        const [account = '', share = '', ...rest] = key.split('/');
        this.write(account, share, rest.join('/'), content);
      }
      return;
    }
    for (const [key, saved] of data.entries) {
      this.entries.set(
        key,
        saved.kind === 'file'
          ? {
              ...saved,
              metadata: { ...saved.metadata },
              headers: { ...saved.headers },
              content: Buffer.from(saved.content, 'base64'),
            }
          : { ...saved, metadata: { ...saved.metadata } },
      );
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
