/**
 * Files on simulated Azure Files shares, by account, share and path. There is no Files data plane
 * over HTTPS yet: the sandbox and tests write files here directly (e.g. the rendered openclaw.json),
 * and the OpenClaw stand-in reads them through the container app's volume mounts.
 */
export class FileShareStore {
  private readonly files = new Map<string, string>();

  private static key(account: string, share: string, path: string): string {
    return `${account}/${share}/${path.replace(/^\/+/, '')}`;
  }

  write(account: string, share: string, path: string, content: string): void {
    this.files.set(FileShareStore.key(account, share, path), content);
  }

  read(account: string, share: string, path: string): string | undefined {
    return this.files.get(FileShareStore.key(account, share, path));
  }

  remove(account: string, share: string, path: string): void {
    this.files.delete(FileShareStore.key(account, share, path));
  }

  /** Every file with its content, for the state file. */
  exportState(): [string, string][] {
    return [...this.files];
  }

  /** Replaces all files with saved data. */
  importState(data: [string, string][]): void {
    this.files.clear();
    for (const [key, content] of data) this.files.set(key, content);
  }

  /** Paths and sizes only. */
  snapshot(): unknown {
    return [...this.files].map(([key, content]) => ({ path: key, length: content.length }));
  }
}
