import {
  BlobSASPermissions,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  SASProtocol,
  type UserDelegationKey,
} from '@azure/storage-blob';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ArmState, StoredResource } from './arm/armState.js';
import type { FaultRegistry } from './faults.js';
import type { IdentityDirectory, Principal } from './identity.js';
import { SimHttpError, type SimRequest, type SimResponse, type SimSurface } from './surface.js';
import { messageOf } from '../../shared/errors.js';

export const storageAudience = 'https://storage.azure.com';
const maxDelegationKeyLifetimeMs = 7 * 24 * 3600 * 1000;

export interface StoredBlob {
  name: string;
  content: Buffer;
  contentType: string;
  blobType: 'BlockBlob' | 'AppendBlob';
  etag: string;
  created: number;
  modified: number;
}

interface BlobContainer {
  name: string;
  created: number;
  blobs: Map<string, StoredBlob>;
}

interface IssuedDelegationKey {
  signedOid: string;
  signedTid: string;
  signedStart: string;
  signedExpiry: string;
  signedService: string;
  signedVersion: string;
  value: string;
}

interface BlobAccount {
  containers: Map<string, BlobContainer>;
  delegationKeys: IssuedDelegationKey[];
}

/** BlobStore as the state file holds it; blob content is base64. */
export type BlobStoreData = Array<
  [
    string,
    {
      delegationKeys: IssuedDelegationKey[];
      containers: Array<
        [
          string,
          {
            name: string;
            created: number;
            blobs: Array<[string, Omit<StoredBlob, 'content'> & { content: string }]>;
          },
        ]
      >;
    },
  ]
>;

/** Containers, blobs and issued user-delegation keys of every simulated storage account. */
export class BlobStore {
  private readonly accounts = new Map<string, BlobAccount>();

  ensureAccount(name: string): BlobAccount {
    let account = this.accounts.get(name);
    if (!account) {
      account = { containers: new Map(), delegationKeys: [] };
      this.accounts.set(name, account);
    }
    return account;
  }

  account(name: string): BlobAccount | undefined {
    return this.accounts.get(name);
  }

  dropAccount(name: string): void {
    this.accounts.delete(name);
  }

  createContainer(account: string, container: string, now = Date.now()): void {
    const containers = this.ensureAccount(account).containers;
    if (!containers.has(container))
      containers.set(container, { name: container, created: now, blobs: new Map() });
  }

  deleteContainer(account: string, container: string): void {
    this.accounts.get(account)?.containers.delete(container);
  }

  /** A blob as stored, for tests and other surfaces. */
  getBlob(account: string, container: string, blob: string): StoredBlob | undefined {
    return this.accounts.get(account)?.containers.get(container)?.blobs.get(blob);
  }

  /** Every account with its containers, blobs (content as base64) and delegation keys. */
  exportState(): BlobStoreData {
    return [...this.accounts].map(([name, account]) => [
      name,
      {
        delegationKeys: account.delegationKeys.map((key) => ({ ...key })),
        containers: [...account.containers].map(([containerKey, container]) => [
          containerKey,
          {
            name: container.name,
            created: container.created,
            blobs: [...container.blobs].map(([blobKey, blob]) => [
              blobKey,
              { ...blob, content: blob.content.toString('base64') },
            ]),
          },
        ]),
      },
    ]);
  }

  /** Replaces all accounts with saved data. */
  importState(data: BlobStoreData): void {
    this.accounts.clear();
    for (const [name, account] of data) {
      this.accounts.set(name, {
        delegationKeys: account.delegationKeys.map((key) => ({ ...key })),
        containers: new Map(
          account.containers.map(([containerKey, container]) => [
            containerKey,
            {
              name: container.name,
              created: container.created,
              blobs: new Map(
                container.blobs.map(([blobKey, blob]) => [
                  blobKey,
                  { ...blob, content: Buffer.from(blob.content, 'base64') },
                ]),
              ),
            },
          ]),
        ),
      });
    }
  }

  snapshot(): unknown {
    return [...this.accounts].map(([name, account]) => ({
      name,
      delegationKeysIssued: account.delegationKeys.length,
      containers: [...account.containers.values()].map((container) => ({
        name: container.name,
        blobs: [...container.blobs.values()].map((blob) => ({
          name: blob.name,
          length: blob.content.length,
          blobType: blob.blobType,
        })),
      })),
    }));
  }
}

export interface BlobDataPlaneOptions {
  state: ArmState;
  identity: IdentityDirectory;
  faults: FaultRegistry;
  store: BlobStore;
}

function storageError(status: number, code: string, message: string, detail?: string): SimHttpError {
  const xml =
    `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message>` +
    (detail ? `<AuthenticationErrorDetail>${escapeXml(detail)}</AuthenticationErrorDetail>` : '') +
    '</Error>';
  return new SimHttpError(status, xml, { 'x-ms-error-code': code, 'Content-Type': 'application/xml' });
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

function xmlValue(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

type BlobRight = 'read' | 'add' | 'create' | 'write' | 'delete' | 'list';

/** Who is asking: a principal with a bearer token, or a user-delegation SAS (already verified). */
type Caller =
  { kind: 'bearer'; principal: Principal } | { kind: 'sas'; principal: Principal; permissions: string };

/**
 * A minimal Blob service for slug storage accounts, at one listener (IP-style URLs
 * https://127.0.0.1:<port>/<account>/<container>/<blob>). It serves what log shipping needs:
 * user-delegation keys for Entra principals, user-delegation SAS (verified by recomputing the
 * signature with @azure/storage-blob, validity checked in simulated time, permissions intersected
 * with the signer's RBAC rights), container and block/append blob create, read, list and delete.
 * Shared-key requests are refused (the broker's accounts disable shared-key access).
 */
export function createBlobDataPlane(options: BlobDataPlaneOptions): SimSurface {
  const { state, identity, store } = options;

  const accountResource = (name: string): StoredResource | undefined =>
    state.find('Microsoft.Storage/storageAccounts').find((account) => account.name === name);

  const rightsOf = (principal: Principal, scope: string) => {
    const roles = state.rolesAt(principal.objectId, scope, state.options.dataPlanePropagationMs);
    return {
      delegate: roles.some((role) => role.blob.delegate),
      read: roles.some((role) => role.blob.read),
      write: roles.some((role) => role.blob.write),
    };
  };

  function verifySas(
    req: SimRequest,
    accountName: string,
    containerName: string,
    blobName: string | undefined,
  ): Caller {
    const q = req.url.searchParams;
    const now = state.clock.now();
    const fail = (detail: string) =>
      storageError(
        403,
        'AuthenticationFailed',
        'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
        detail,
      );
    const skoid = q.get('skoid');
    if (!skoid)
      throw fail('Only user-delegation SAS is simulated; this SAS has no signed key object id (skoid).');
    const account = store.account(accountName);
    const key = account?.delegationKeys.find(
      (candidate) =>
        candidate.signedOid === skoid &&
        candidate.signedStart === q.get('skt') &&
        candidate.signedExpiry === q.get('ske'),
    );
    if (!key) throw fail('The user delegation key named by the SAS was not issued by this account.');
    const resource = q.get('sr');
    const permissionsText = q.get('sp') ?? '';
    const startsOn = q.get('st');
    const expiresOn = q.get('se');
    const protocol = q.get('spr');
    const userDelegationKey: UserDelegationKey = {
      signedObjectId: key.signedOid,
      signedTenantId: key.signedTid,
      signedStartsOn: new Date(key.signedStart),
      signedExpiresOn: new Date(key.signedExpiry),
      signedService: key.signedService,
      signedVersion: key.signedVersion,
      value: key.value,
    };
    let expected: string | undefined;
    try {
      expected = generateBlobSASQueryParameters(
        {
          containerName,
          ...(resource === 'b' && blobName !== undefined ? { blobName } : {}),
          permissions:
            resource === 'c'
              ? ContainerSASPermissions.parse(permissionsText)
              : BlobSASPermissions.parse(permissionsText),
          ...(startsOn ? { startsOn: new Date(startsOn) } : {}),
          ...(expiresOn ? { expiresOn: new Date(expiresOn) } : {}),
          ...(protocol
            ? { protocol: protocol === 'https' ? SASProtocol.Https : SASProtocol.HttpsAndHttp }
            : {}),
          ...(q.get('sv') ? { version: q.get('sv')! } : {}),
          ...(q.get('ses') ? { encryptionScope: q.get('ses')! } : {}),
          ...(q.get('saoid') ? { preauthorizedAgentObjectId: q.get('saoid')! } : {}),
          ...(q.get('scid') ? { correlationId: q.get('scid')! } : {}),
          ...(q.get('sduoid') ? { delegatedUserObjectId: q.get('sduoid')! } : {}),
          ...(q.get('rscc') ? { cacheControl: q.get('rscc')! } : {}),
          ...(q.get('rscd') ? { contentDisposition: q.get('rscd')! } : {}),
          ...(q.get('rsce') ? { contentEncoding: q.get('rsce')! } : {}),
          ...(q.get('rscl') ? { contentLanguage: q.get('rscl')! } : {}),
          ...(q.get('rsct') ? { contentType: q.get('rsct')! } : {}),
        },
        userDelegationKey,
        accountName,
      ).signature;
    } catch (error) {
      throw fail(`The SAS could not be checked: ${messageOf(error)}`);
    }
    const given = Buffer.from(q.get('sig') ?? '');
    if (given.length !== Buffer.from(expected).length || !timingSafeEqual(given, Buffer.from(expected))) {
      throw fail('Signature did not match. The SAS does not cover this resource or was altered.');
    }
    if (!expiresOn || Date.parse(expiresOn) <= now || Date.parse(key.signedExpiry) <= now) {
      throw fail(
        `Signature not valid in the specified time frame: Start [${startsOn ?? ''}] - Expiry [${expiresOn ?? ''}] - Current [${new Date(now).toUTCString()}]`,
      );
    }
    if (startsOn && Date.parse(startsOn) > now) {
      throw fail(
        `Signature not valid in the specified time frame: Start [${startsOn}] - Expiry [${expiresOn}] - Current [${new Date(now).toUTCString()}]`,
      );
    }
    const principal = identity.get(skoid);
    if (!principal) throw fail('The principal that signed the user delegation key no longer exists.');
    return { kind: 'sas', principal, permissions: permissionsText };
  }

  function authenticate(
    req: SimRequest,
    accountName: string,
    containerName: string | undefined,
    blobName: string | undefined,
  ): Caller {
    const authorization = req.headers.authorization;
    if (typeof authorization === 'string' && /^sharedkey /i.test(authorization)) {
      throw storageError(
        403,
        'KeyBasedAuthenticationNotPermitted',
        'Key based authentication is not permitted on this storage account (shared key is not simulated).',
      );
    }
    if (typeof authorization === 'string') {
      const result = identity.authenticate(req.headers);
      if (!result)
        throw storageError(
          401,
          'InvalidAuthenticationInfo',
          'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
        );
      if (result.claims.aud.replace(/\/+$/, '') !== storageAudience) {
        throw storageError(
          401,
          'InvalidAuthenticationInfo',
          `Audience validation failed. Audience did not match: ${result.claims.aud}`,
        );
      }
      return { kind: 'bearer', principal: result.principal };
    }
    if (req.url.searchParams.has('sig')) {
      if (containerName === undefined)
        throw storageError(
          403,
          'AuthorizationResourceTypeMismatch',
          'This request is not authorized to perform this operation using this resource type.',
        );
      return verifySas(req, accountName, containerName, blobName);
    }
    throw storageError(
      401,
      'NoAuthenticationInformation',
      'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
    );
  }

  function requireRight(
    caller: Caller,
    account: StoredResource,
    right: BlobRight,
    alternatives: string,
  ): void {
    const rights = rightsOf(caller.principal, account.id);
    const rbac = right === 'read' || right === 'list' ? rights.read : rights.write;
    const sasAllows =
      caller.kind === 'bearer' || [...alternatives].some((letter) => caller.permissions.includes(letter));
    if (!rbac || !sasAllows) {
      throw storageError(
        403,
        'AuthorizationPermissionMismatch',
        'This request is not authorized to perform this operation using this permission.',
      );
    }
  }

  const headersFor = (req: SimRequest) => ({
    'x-ms-request-id': randomUUID(),
    'x-ms-version':
      typeof req.headers['x-ms-version'] === 'string' ? req.headers['x-ms-version'] : '2026-04-06',
  });
  const etagNow = () => `"0x${randomBytes(8).toString('hex').toUpperCase()}"`;

  async function route(
    req: SimRequest,
    accountName: string,
    containerName: string | undefined,
    blobName: string | undefined,
  ): Promise<SimResponse> {
    const account = accountResource(accountName);
    if (!account)
      throw storageError(
        404,
        'ResourceNotFound',
        `The storage account ${accountName} does not exist (the real service fails DNS resolution).`,
      );
    const blobs = store.ensureAccount(accountName);
    const q = req.url.searchParams;
    const now = state.clock.now();
    const caller = authenticate(req, accountName, containerName, blobName);

    if (containerName === undefined) {
      if (req.method === 'POST' && q.get('restype') === 'service' && q.get('comp') === 'userdelegationkey') {
        if (caller.kind !== 'bearer')
          throw storageError(
            403,
            'AuthorizationFailure',
            'A user delegation key can only be requested with an Entra token.',
          );
        if (!rightsOf(caller.principal, account.id).delegate) {
          throw storageError(
            403,
            'AuthorizationPermissionMismatch',
            'This request is not authorized to perform this operation using this permission.',
          );
        }
        const xml = req.body.toString('utf8');
        const start = xmlValue(xml, 'Start') ?? new Date(now).toISOString();
        const expiry = xmlValue(xml, 'Expiry');
        if (!expiry || Number.isNaN(Date.parse(expiry)))
          throw storageError(400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.');
        if (Date.parse(expiry) - now > maxDelegationKeyLifetimeMs) {
          throw storageError(
            400,
            'InvalidXmlNodeValue',
            'The value for one of the XML nodes is not in the correct format: the key expiry must be within 7 days of the current time.',
          );
        }
        const isoSeconds = (value: string) => new Date(value).toISOString().replace(/\.\d{3}Z$/, 'Z');
        const key: IssuedDelegationKey = {
          signedOid: caller.principal.objectId,
          signedTid: identity.tenantId,
          signedStart: isoSeconds(start),
          signedExpiry: isoSeconds(expiry),
          signedService: 'b',
          signedVersion: headersFor(req)['x-ms-version'],
          value: randomBytes(32).toString('base64'),
        };
        blobs.delegationKeys.push(key);
        const body =
          `<?xml version="1.0" encoding="utf-8"?><UserDelegationKey><SignedOid>${key.signedOid}</SignedOid><SignedTid>${key.signedTid}</SignedTid>` +
          `<SignedStart>${key.signedStart}</SignedStart><SignedExpiry>${key.signedExpiry}</SignedExpiry><SignedService>${key.signedService}</SignedService>` +
          `<SignedVersion>${key.signedVersion}</SignedVersion><Value>${key.value}</Value></UserDelegationKey>`;
        return { status: 200, headers: { 'Content-Type': 'application/xml' }, body };
      }
      throw storageError(
        400,
        'UnsupportedHttpVerb',
        'The resource does not support the specified HTTP verb in the simulator.',
      );
    }

    const container = blobs.containers.get(containerName);
    if (blobName === undefined) {
      if (q.get('restype') !== 'container')
        throw storageError(
          400,
          'InvalidQueryParameterValue',
          'Value for one of the query parameters specified in the request URI is invalid.',
        );
      if (req.method === 'PUT') {
        if (caller.kind === 'sas')
          throw storageError(
            403,
            'AuthorizationResourceTypeMismatch',
            'This request is not authorized to perform this operation using this resource type.',
          );
        requireRight(caller, account, 'write', '');
        if (container)
          throw storageError(409, 'ContainerAlreadyExists', 'The specified container already exists.');
        store.createContainer(accountName, containerName, now);
        return { status: 201, headers: { ETag: etagNow(), 'Last-Modified': new Date(now).toUTCString() } };
      }
      if (!container) throw storageError(404, 'ContainerNotFound', 'The specified container does not exist.');
      if (req.method === 'GET' && q.get('comp') === 'list') {
        requireRight(caller, account, 'list', 'l');
        const prefix = q.get('prefix') ?? '';
        const items = [...container.blobs.values()]
          .filter((blob) => blob.name.startsWith(prefix))
          .map(
            (blob) =>
              `<Blob><Name>${escapeXml(blob.name)}</Name><Properties><Creation-Time>${new Date(blob.created).toUTCString()}</Creation-Time><Last-Modified>${new Date(blob.modified).toUTCString()}</Last-Modified><Etag>${blob.etag}</Etag><Content-Length>${blob.content.length}</Content-Length><Content-Type>${escapeXml(blob.contentType)}</Content-Type><BlobType>${blob.blobType}</BlobType></Properties></Blob>`,
          )
          .join('');
        const body = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${escapeXml(`${req.url.origin}/${accountName}/`)}" ContainerName="${escapeXml(containerName)}"><Prefix>${escapeXml(prefix)}</Prefix><Blobs>${items}</Blobs><NextMarker /></EnumerationResults>`;
        return { status: 200, headers: { 'Content-Type': 'application/xml' }, body };
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        requireRight(caller, account, 'read', 'r');
        return {
          status: 200,
          headers: { ETag: etagNow(), 'Last-Modified': new Date(container.created).toUTCString() },
        };
      }
      if (req.method === 'DELETE') {
        if (caller.kind === 'sas')
          throw storageError(
            403,
            'AuthorizationResourceTypeMismatch',
            'This request is not authorized to perform this operation using this resource type.',
          );
        requireRight(caller, account, 'delete', 'd');
        store.deleteContainer(accountName, containerName);
        return { status: 202 };
      }
      throw storageError(
        400,
        'UnsupportedHttpVerb',
        'The resource does not support the specified HTTP verb in the simulator.',
      );
    }

    if (!container) throw storageError(404, 'ContainerNotFound', 'The specified container does not exist.');
    const existing = container.blobs.get(blobName);
    switch (req.method) {
      case 'PUT': {
        if (q.get('comp') === 'appendblock') {
          requireRight(caller, account, 'add', 'aw');
          if (!existing) throw storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
          if (existing.blobType !== 'AppendBlob')
            throw storageError(409, 'InvalidBlobType', 'The blob type is invalid for this operation.');
          existing.content = Buffer.concat([existing.content, req.body]);
          existing.modified = now;
          existing.etag = etagNow();
          return {
            status: 201,
            headers: {
              ETag: existing.etag,
              'Last-Modified': new Date(now).toUTCString(),
              'x-ms-blob-append-offset': String(existing.content.length - req.body.length),
              'x-ms-blob-committed-block-count': '1',
              'x-ms-request-server-encrypted': 'true',
            },
          };
        }
        if (q.get('comp') !== null)
          throw storageError(
            400,
            'InvalidQueryParameterValue',
            `comp=${q.get('comp') ?? ''} is not simulated.`,
          );
        requireRight(caller, account, existing ? 'write' : 'create', existing ? 'w' : 'cw');
        const typeHeader = req.headers['x-ms-blob-type'];
        const blobType = typeHeader === 'AppendBlob' ? 'AppendBlob' : 'BlockBlob';
        const contentType =
          typeof req.headers['x-ms-blob-content-type'] === 'string'
            ? req.headers['x-ms-blob-content-type']
            : 'application/octet-stream';
        const blob: StoredBlob = {
          name: blobName,
          content: blobType === 'AppendBlob' ? Buffer.alloc(0) : Buffer.from(req.body),
          contentType,
          blobType,
          etag: etagNow(),
          created: existing?.created ?? now,
          modified: now,
        };
        container.blobs.set(blobName, blob);
        return {
          status: 201,
          headers: {
            ETag: blob.etag,
            'Last-Modified': new Date(now).toUTCString(),
            'Content-MD5': createHash('md5').update(blob.content).digest('base64'),
            'x-ms-request-server-encrypted': 'true',
          },
        };
      }
      case 'GET':
      case 'HEAD': {
        requireRight(caller, account, 'read', 'r');
        if (!existing) throw storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
        return {
          status: 200,
          headers: {
            ETag: existing.etag,
            'Last-Modified': new Date(existing.modified).toUTCString(),
            'Content-Type': existing.contentType,
            'x-ms-blob-type': existing.blobType,
            'x-ms-creation-time': new Date(existing.created).toUTCString(),
            'x-ms-server-encrypted': 'true',
          },
          body: existing.content,
        };
      }
      case 'DELETE':
        requireRight(caller, account, 'delete', 'd');
        if (!existing) throw storageError(404, 'BlobNotFound', 'The specified blob does not exist.');
        container.blobs.delete(blobName);
        return { status: 202 };
      default:
        throw storageError(
          400,
          'UnsupportedHttpVerb',
          'The resource does not support the specified HTTP verb in the simulator.',
        );
    }
  }

  return {
    name: 'blob',
    prefix: '/blob/',
    async handle(req) {
      const segments = req.url.pathname.split('/').slice(2);
      const accountName = decodeURIComponent(segments[0] ?? '');
      const containerName = segments[1] ? decodeURIComponent(segments[1]) : undefined;
      const blobName =
        segments.length > 2 && segments.slice(2).join('/') !== ''
          ? decodeURIComponent(segments.slice(2).join('/'))
          : undefined;
      const common = headersFor(req);
      try {
        state.tick();
        const response = await route(req, accountName, containerName, blobName);
        return { ...response, headers: { ...common, ...response.headers } };
      } catch (error) {
        if (error instanceof SimHttpError)
          return { status: error.status, headers: { ...common, ...error.headers }, body: error.body };
        throw error;
      }
    },
    snapshot: () => store.snapshot(),
  };
}
