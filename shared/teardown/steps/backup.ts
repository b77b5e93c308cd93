import type { Readable } from 'node:stream';
import type { ShareDirectoryClient, ShareFileClient } from '@azure/storage-file-share';
import { isNotFound } from '../../azure/azureErrors.js';
import { fileServiceClient } from '../../azure/fileShareClient.js';
import { TEARDOWN_BACKUP_CONTAINER } from '../../storage/teardownBackupStore.js';
import type { BackupFacts, BackupInput } from '../contracts.js';
import type { TeardownStepsDeps } from './deps.js';

/** Block size of a streamed backup upload: two blocks in flight keep the step's memory small. */
const BACKUP_BLOCK_BYTES = 4 * 1024 * 1024;

/**
 * Copies every file of the state share into the broker's storage
 * (`teardown-backups/<slug>/<incarnation>/<requestId>/...`) with a manifest, each blob tagged
 * with its retention. Safe to run twice: the same request writes the same blobs again. The
 * storage key is read with the broker's identity and never leaves this step.
 */
export async function backup(
  deps: Pick<TeardownStepsDeps, 'azure' | 'storage'>,
  input: BackupInput,
): Promise<BackupFacts> {
  const { azure } = deps;
  const { plan } = input;
  if (!plan.storageAccount) return { files: 0, bytes: 0, skipped: 'no storage account left to back up' };
  const service = await fileServiceClient(azure, {
    resourceGroup: plan.resourceGroup,
    accountName: plan.storageAccount,
  });
  if (!service) return { files: 0, bytes: 0, skipped: `storage account ${plan.storageAccount} is gone` };
  const share = service.getShareClient(plan.stateShare);
  const retainUntil = new Date(Date.parse(input.at) + plan.backupRetentionMs).toISOString();
  const prefix = `${plan.slug}/${plan.incarnation ?? 0}/${plan.requestId}`;
  const container = await deps.storage.container(TEARDOWN_BACKUP_CONTAINER);
  const metadata = { slug: plan.slug, requestid: plan.requestId, retainuntil: retainUntil };
  const manifest: { path: string; bytes: number }[] = [];
  const skipped: { path: string; reason: string }[] = [];
  try {
    for await (const file of walk(share.rootDirectoryClient, '')) {
      const name = backupBlobName(prefix, file.path);
      if (!name) {
        skipped.push({ path: file.path, reason: 'a path segment is empty, "." or ".."' });
        continue;
      }
      // Streamed, never whole in memory: a state file can be as large as the share allows.
      const download = await file.client.download();
      if (!download.readableStreamBody) throw new Error(`no content stream for ${file.path}`);
      await container
        .getBlockBlobClient(name)
        .uploadStream(download.readableStreamBody as Readable, BACKUP_BLOCK_BYTES, 2, { metadata });
      manifest.push({ path: file.path, bytes: download.contentLength ?? 0 });
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
    // No share: nothing to copy; the manifest says so.
  }
  const bytes = manifest.reduce((sum, file) => sum + file.bytes, 0);
  const text = JSON.stringify(
    {
      slug: plan.slug,
      incarnation: plan.incarnation,
      requestId: plan.requestId,
      source: { storageAccount: plan.storageAccount, share: plan.stateShare },
      takenAt: input.at,
      retainUntil,
      files: manifest,
      ...(skipped.length > 0 ? { skipped } : {}),
    },
    null,
    2,
  );
  await container.getBlockBlobClient(`${prefix}/manifest.json`).upload(text, Buffer.byteLength(text), {
    metadata,
    blobHTTPHeaders: { blobContentType: 'application/json' },
  });
  return {
    location: `${TEARDOWN_BACKUP_CONTAINER}/${prefix}/`,
    files: manifest.length,
    bytes,
    retainUntil,
  };
}

/**
 * The blob a state file is backed up to, or undefined when its path could leave the request's
 * prefix. The share's content is the tenant's: a name of "." or ".." would be resolved by the URL
 * the storage SDK builds, and land under another slug's backups.
 */
export function backupBlobName(prefix: string, path: string): string | undefined {
  const segments = path.split('/');
  if (
    segments.some(
      (segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\\'),
    )
  )
    return undefined;
  return `${prefix}/files/${path}`;
}

/** Every file under a directory of the share, depth first, with its path. */
async function* walk(
  directory: ShareDirectoryClient,
  path: string,
): AsyncGenerator<{ path: string; client: ShareFileClient }> {
  for await (const item of directory.listFilesAndDirectories()) {
    const child = path ? `${path}/${item.name}` : item.name;
    if (item.kind === 'directory') yield* walk(directory.getDirectoryClient(item.name), child);
    else yield { path: child, client: directory.getFileClient(item.name) };
  }
}
