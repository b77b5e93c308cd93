import type { ArmState } from './arm/armState.js';
import type { FaultRegistry } from './faults.js';
import type { IdentityDirectory } from './identity.js';
import type { SimSurface } from './surface.js';

/** Blob containers and blobs of every simulated storage account. */
export class BlobStore {
  snapshot(): unknown {
    return {};
  }
}

export interface BlobDataPlaneOptions {
  state: ArmState;
  identity: IdentityDirectory;
  faults: FaultRegistry;
  store: BlobStore;
}

export function createBlobDataPlane(options: BlobDataPlaneOptions): SimSurface {
  return {
    name: 'blob',
    prefix: '/blob/',
    async handle() {
      return { status: 501, body: 'not yet' };
    },
    snapshot: () => options.store.snapshot(),
  };
}
