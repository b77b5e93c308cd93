import { ContainerClient } from '@azure/storage-blob';
import { describe, expect, it } from 'vitest';
import { backupBlobName } from '../../shared/teardown/teardownSteps.js';

/**
 * Teardown backs up the tenant's state share into the broker's own container under
 * `<slug>/<incarnation>/<requestId>/files/<path>`. The paths come from the tenant's share, and the
 * storage SDK resolves dot segments in a blob name (shown below), so a ".." would write outside the
 * request's prefix, over another slug's backup.
 */
describe('backup blob names', () => {
  const prefix = 'acme/1/req-1';

  it('the storage SDK resolves dot segments: the danger is real', () => {
    const container = new ContainerClient('https://account.blob.core.windows.net/teardown-backups');
    expect(container.getBlockBlobClient(`${prefix}/files/../../../../victim/1/r/manifest.json`).name).toBe(
      'victim/1/r/manifest.json',
    );
  });

  it('keeps ordinary paths under the prefix', () => {
    expect(backupBlobName(prefix, 'agents/main/sessions.json')).toBe(
      `${prefix}/files/agents/main/sessions.json`,
    );
    expect(backupBlobName(prefix, '.openclaw/state..db')).toBe(`${prefix}/files/.openclaw/state..db`);
  });

  it.each(['..', '../victim/x', 'a/../../b', './x', 'a//b', 'a\\..\\b', ''])('refuses %j', (path) => {
    expect(backupBlobName(prefix, path)).toBeUndefined();
  });
});
