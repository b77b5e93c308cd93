import {
  StorageSharedKeyCredential,
  type HttpOperationResponse,
  type RequestPolicy,
  type RequestPolicyOptions,
  type WebResource,
} from '@azure/storage-file-share';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ArmState, StoredResource } from './arm/armState.js';
import { stringOf } from './arm/resourceType.js';
import { storageAccountKeyValues } from './arm/storage.js';
import { storageAudience } from './blobDataPlane.js';
import {
  normaliseSharePath,
  type FileShareStore,
  type StoredFileHeaders,
  type StoredShareEntry,
  type StoredShareFile,
} from './fileShareStore.js';
import type { IdentityDirectory } from './identity.js';
import { SimHttpError, type SimRequest, type SimResponse, type SimSurface } from './surface.js';

/**
 * FileREST versions the simulator answers (the installed @azure/storage-file-share sends the first).
 * OAuth needs 2022-11-02 or later, as in Azure.
 */
export const fileServiceVersions = [
  '2026-04-06',
  '2026-02-06',
  '2025-11-05',
  '2025-07-05',
  '2025-05-05',
  '2025-01-05',
  '2024-11-04',
  '2024-08-04',
  '2024-05-04',
  '2024-02-04',
  '2023-11-03',
  '2023-08-03',
  '2023-01-03',
  '2022-11-02',
  '2021-12-02',
  '2021-08-06',
  '2021-06-08',
  '2021-04-10',
  '2021-02-12',
  '2020-12-06',
  '2020-10-02',
  '2020-08-04',
  '2020-06-12',
  '2020-04-08',
  '2020-02-10',
  '2019-12-12',
  '2019-07-07',
  '2019-02-02',
];
const firstOAuthVersion = '2022-11-02';
/** OAuth on the share-level APIs (Get Share Properties, List Shares, ...) came with this version. */
const firstShareOAuthVersion = '2024-11-04';
/** Azure refuses a Shared Key request whose date is further than this from its own clock. */
const maxClockSkewMs = 15 * 60 * 1000;
/** The most a Put Range may carry, and the most a Get File may hash for x-ms-range-get-content-md5. */
const maxRangeBytes = 4 * 1024 * 1024;
/**
 * Share snapshots a share may have ("Overview of share snapshots for Azure Files", Limits: 200
 * share snapshots per share); one more is refused with ShareSnapshotCountExceeded (409, "Azure
 * Files error codes").
 */
export const maxShareSnapshots = 200;
/** A `sharesnapshot` value: the DateTime the service returns in x-ms-snapshot (7 fractional digits). */
const shareSnapshotPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/;

export interface FileDataPlaneOptions {
  state: ArmState;
  identity: IdentityDirectory;
  store: FileShareStore;
}

function filesError(
  status: number,
  code: string,
  message: string,
  details: Record<string, string> = {},
): SimHttpError {
  const extra = Object.entries(details)
    .map(([tag, value]) => `<${tag}>${escapeXml(value)}</${tag}>`)
    .join('');
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}\nRequestId:${randomUUID()}\nTime:${new Date().toISOString()}</Message>${extra}</Error>`;
  return new SimHttpError(status, xml, { 'x-ms-error-code': code, 'Content-Type': 'application/xml' });
}

function escapeXml(text: string): string {
  return text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

const notFound = {
  share: () => filesError(404, 'ShareNotFound', 'The specified share does not exist.'),
  /**
   * ShareSnapshotNotFound is in the Files error-code enum of the REST spec (the SDKs' ShareErrorCode)
   * but not in the "Azure Files error codes" table; which code a missing snapshot gets is not
   * documented. The broker treats any 404 as "not there".
   */
  snapshot: () => filesError(404, 'ShareSnapshotNotFound', 'The specified share snapshot does not exist.'),
  resource: () => filesError(404, 'ResourceNotFound', 'The specified resource does not exist.'),
  parent: () => filesError(404, 'ParentNotFound', 'The specified parent path does not exist.'),
};

/**
 * A share snapshot is "a point-in-time, read-only copy of your data" (Overview of share snapshots
 * for Azure Files; Snapshot Share "creates a read-only snapshot of a share"). Writes naming one get
 * ShareSnapshotOperationNotSupported, 400, "The operation is not supported on a share snapshot."
 * ("Azure Files error codes").
 */
const snapshotReadOnly = () =>
  filesError(
    400,
    'ShareSnapshotOperationNotSupported',
    'The operation is not supported on a share snapshot.',
  );

const authenticationFailed = (detail: string) =>
  filesError(
    403,
    'AuthenticationFailed',
    'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
    { AuthenticationErrorDetail: detail },
  );

const header = (req: SimRequest, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
};

/** `2026-01-02T03:04:05.1230000Z`: the 7-digit fractions Azure Files uses for SMB times. */
const smbTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
const httpDate = (ms: number) => new Date(ms).toUTCString();

/** Who is asking: the account key holder, or an Entra principal with the backup intent. */
type Caller = { kind: 'sharedKey' } | { kind: 'bearer'; principalId: string };

/**
 * Recomputes a Shared Key signature with the SDK's own signing policy: the request as received is
 * handed to `StorageSharedKeyCredential`'s policy, which would stamp a fresh `x-ms-date`; the stand-in
 * headers ignore that, so the string to sign uses the client's date, as the service does.
 */
async function sharedKeySignature(
  accountName: string,
  key: string,
  method: string,
  url: string,
  headers: Array<{ name: string; value: string }>,
): Promise<string | undefined> {
  let signed: string | undefined;
  const next: RequestPolicy = {
    sendRequest() {
      return Promise.resolve({} as HttpOperationResponse);
    },
  };
  const options = { log: () => undefined, shouldLog: () => false } as unknown as RequestPolicyOptions;
  const request = {
    method,
    url,
    body: undefined,
    headers: {
      get: (name: string) => headers.find((entry) => entry.name === name.toLowerCase())?.value,
      set: (name: string, value: string | number) => {
        if (name.toLowerCase() === 'authorization') signed = String(value);
      },
      headersArray: () => headers,
    },
  };
  await new StorageSharedKeyCredential(accountName, key)
    .create(next, options)
    .sendRequest(request as unknown as WebResource);
  return signed;
}

function parseRange(
  text: string | undefined,
  size: number,
  forWrite: boolean,
): { start: number; end: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d*)$/.exec(text.trim());
  if (!match)
    throw filesError(
      400,
      'InvalidHeaderValue',
      'The value for one of the HTTP headers is not in the correct format.',
      {
        HeaderName: 'x-ms-range',
        HeaderValue: text,
      },
    );
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Number(match[2]);
  if (end < start || (forWrite && match[2] === ''))
    throw filesError(
      400,
      'InvalidHeaderValue',
      'The value for one of the HTTP headers is not in the correct format.',
      {
        HeaderName: 'x-ms-range',
        HeaderValue: text,
      },
    );
  if (start >= size || (forWrite && end >= size))
    throw filesError(
      416,
      'InvalidRange',
      'The range specified is invalid for the current size of the resource.',
    );
  return { start, end: Math.min(end, size - 1) };
}

/**
 * The Azure Files data plane (FileREST) for the simulated storage accounts, on one listener with
 * IP-style URLs (https://127.0.0.1:<port>/<account>/<share>/<path>), the account's
 * `primaryEndpoints.file`. It serves the FileShareStore, so the OpenClaw stand-in and `sim.files`
 * see what clients write and the other way round. Authorisation: Shared Key (the signature is
 * recomputed from the account's current keys, so a regenerated key stops working), or an Entra
 * bearer token with `x-ms-file-request-intent: backup` and Storage File Data Privileged Reader /
 * Contributor at the account or above, after the data-plane propagation delay.
 */
export function createFileDataPlane(options: FileDataPlaneOptions): SimSurface {
  const { state, identity, store } = options;

  const accountResource = (name: string): StoredResource | undefined =>
    state.find('Microsoft.Storage/storageAccounts').find((account) => account.name === name);
  const shareResource = (account: StoredResource, share: string): StoredResource | undefined =>
    state.get(`${account.id}/fileServices/default/shares/${share}`);

  /**
   * `shareLevel`: the FileService/FileShare APIs (List Shares, Get Share Properties/Stats). With
   * OAuth they need 2024-11-04 or later and no intent header (the SDK sends none there); file and
   * directory operations need 2022-11-02 and `x-ms-file-request-intent: backup`.
   */
  async function authenticate(
    req: SimRequest,
    account: StoredResource,
    write: boolean,
    shareLevel: boolean,
  ): Promise<Caller> {
    const authorization = header(req, 'authorization');
    if (authorization === undefined) {
      if (req.url.searchParams.has('sig'))
        throw authenticationFailed('Shared access signatures are not simulated for Azure Files.');
      throw filesError(
        401,
        'NoAuthenticationInformation',
        'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
      );
    }
    const sharedKey = /^SharedKey ([^:]+):(.+)$/i.exec(authorization);
    if (sharedKey) {
      const properties = (account.body['properties'] ?? {}) as Record<string, unknown>;
      if (properties['allowSharedKeyAccess'] === false)
        throw filesError(
          403,
          'KeyBasedAuthenticationNotPermitted',
          'Key based authentication is not permitted on this storage account.',
        );
      if (sharedKey[1] !== account.name)
        throw authenticationFailed(
          `The account name ${sharedKey[1] ?? ''} in the Authorization header is not ${account.name}.`,
        );
      const date = header(req, 'x-ms-date') ?? header(req, 'date');
      if (date === undefined || Number.isNaN(Date.parse(date)))
        throw authenticationFailed('The request has no valid x-ms-date or Date header.');
      // The client signs with its wall clock; so does the service, whatever the simulated time.
      if (Math.abs(Date.now() - Date.parse(date)) > maxClockSkewMs)
        throw authenticationFailed(
          `Request date header too old: '${date}'. The date must be within 15 minutes of the server's time.`,
        );
      const host = header(req, 'host') ?? req.url.host;
      const clientUrl = `https://${host}${req.rawUrl ?? `${req.url.pathname}${req.url.search}`}`;
      const headers = Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined
          ? []
          : [{ name: name.toLowerCase(), value: Array.isArray(value) ? value.join(', ') : value }],
      );
      const given = Buffer.from(authorization.replace(/^SharedKey /i, 'SharedKey '));
      for (const key of storageAccountKeyValues(account)) {
        const expected = await sharedKeySignature(account.name, key, req.method, clientUrl, headers);
        if (
          expected &&
          given.length === Buffer.byteLength(expected) &&
          timingSafeEqual(given, Buffer.from(expected))
        )
          return { kind: 'sharedKey' };
      }
      throw authenticationFailed(
        "The MAC signature found in the HTTP request is not the same as any computed signature (neither of the account's current keys signed it).",
      );
    }
    if (!/^bearer /i.test(authorization))
      throw filesError(
        400,
        'InvalidAuthenticationInfo',
        'Authentication information is not given in the correct format. Check the value of Authorization header.',
      );
    const result = identity.authenticate(req.headers);
    if (!result)
      throw filesError(
        401,
        'InvalidAuthenticationInfo',
        'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
      );
    if (result.claims.aud.replace(/\/+$/, '') !== storageAudience)
      throw filesError(
        401,
        'InvalidAuthenticationInfo',
        `Audience validation failed. Audience did not match: ${result.claims.aud}`,
      );
    const version = header(req, 'x-ms-version') ?? '';
    if (version < (shareLevel ? firstShareOAuthVersion : firstOAuthVersion))
      throw filesError(
        403,
        'AuthorizationFailure',
        shareLevel
          ? `This API does not support bearer tokens before x-ms-version ${firstShareOAuthVersion}. For OAuth, use the Storage Resource Provider APIs instead.`
          : `OAuth over REST for Azure Files needs x-ms-version ${firstOAuthVersion} or later.`,
      );
    const intent = header(req, 'x-ms-file-request-intent');
    if (intent === undefined && !shareLevel)
      throw filesError(
        400,
        'MissingRequiredHeader',
        "An HTTP header that's mandatory for this request is not specified.",
        {
          HeaderName: 'x-ms-file-request-intent',
        },
      );
    if (intent !== undefined && intent.toLowerCase() !== 'backup')
      throw filesError(
        400,
        'InvalidHeaderValue',
        'The value for one of the HTTP headers is not in the correct format.',
        {
          HeaderName: 'x-ms-file-request-intent',
          HeaderValue: intent,
        },
      );
    const roles = state.rolesAt(result.principal.objectId, account.id, state.options.dataPlanePropagationMs);
    const allowed = roles.some((role) => (write ? role.files.write : role.files.read));
    if (!allowed)
      throw filesError(
        403,
        'AuthorizationPermissionMismatch',
        'This request is not authorized to perform this operation using this permission.',
      );
    return { kind: 'bearer', principalId: result.principal.objectId };
  }

  const metadataOf = (req: SimRequest): Record<string, string> =>
    Object.fromEntries(
      Object.entries(req.headers)
        .filter(([name, value]) => name.toLowerCase().startsWith('x-ms-meta-') && typeof value === 'string')
        .map(([name, value]) => [name.slice('x-ms-meta-'.length), value as string]),
    );
  const metadataHeaders = (metadata: Record<string, string>) =>
    Object.fromEntries(Object.entries(metadata).map(([name, value]) => [`x-ms-meta-${name}`, value]));

  const smbHeaders = (entry: StoredShareEntry, parentId: string) => ({
    ETag: entry.etag,
    'Last-Modified': httpDate(entry.modified),
    'x-ms-file-attributes': entry.kind === 'directory' ? 'Directory' : 'Archive',
    'x-ms-file-creation-time': smbTime(entry.created),
    'x-ms-file-last-write-time': smbTime(entry.modified),
    'x-ms-file-change-time': smbTime(entry.modified),
    'x-ms-file-permission-key': '4066528134148476695*1',
    'x-ms-file-id': entry.fileId,
    'x-ms-file-parent-id': parentId,
  });

  const fileHeaders = (file: StoredShareFile, parentId: string): Record<string, string> => ({
    ...smbHeaders(file, parentId),
    ...metadataHeaders(file.metadata),
    'Content-Type': file.headers.contentType ?? 'application/octet-stream',
    ...(file.headers.contentEncoding ? { 'Content-Encoding': file.headers.contentEncoding } : {}),
    ...(file.headers.contentLanguage ? { 'Content-Language': file.headers.contentLanguage } : {}),
    ...(file.headers.cacheControl ? { 'Cache-Control': file.headers.cacheControl } : {}),
    ...(file.headers.contentDisposition ? { 'Content-Disposition': file.headers.contentDisposition } : {}),
    'x-ms-type': 'File',
    'Accept-Ranges': 'bytes',
    // Get File Properties: the last Copy File that ended on this file.
    ...(file.copy
      ? {
          'x-ms-copy-id': file.copy.id,
          'x-ms-copy-source': file.copy.source,
          'x-ms-copy-status': file.copy.status,
          'x-ms-copy-progress': file.copy.progress,
          'x-ms-copy-completion-time': httpDate(file.copy.completed),
        }
      : {}),
    'x-ms-server-encrypted': 'true',
    'x-ms-lease-state': 'available',
    'x-ms-lease-status': 'unlocked',
  });

  const httpHeadersOf = (req: SimRequest): StoredFileHeaders => {
    const pick = (name: string) => header(req, name);
    const headers: StoredFileHeaders = {};
    const contentType = pick('x-ms-content-type');
    if (contentType !== undefined) headers.contentType = contentType;
    const contentEncoding = pick('x-ms-content-encoding');
    if (contentEncoding !== undefined) headers.contentEncoding = contentEncoding;
    const contentLanguage = pick('x-ms-content-language');
    if (contentLanguage !== undefined) headers.contentLanguage = contentLanguage;
    const cacheControl = pick('x-ms-cache-control');
    if (cacheControl !== undefined) headers.cacheControl = cacheControl;
    const contentDisposition = pick('x-ms-content-disposition');
    if (contentDisposition !== undefined) headers.contentDisposition = contentDisposition;
    const contentMD5 = pick('x-ms-content-md5');
    if (contentMD5 !== undefined) headers.contentMD5 = contentMD5;
    return headers;
  };

  async function route(req: SimRequest, accountName: string, segments: string[]): Promise<SimResponse> {
    const account = accountResource(accountName);
    if (!account)
      throw filesError(
        404,
        'ResourceNotFound',
        `The storage account ${accountName} does not exist (the real service fails DNS resolution).`,
      );
    const q = req.url.searchParams;
    const method = req.method;
    const write = method !== 'GET' && method !== 'HEAD';
    const [shareName, ...rest] = segments;
    const restype = q.get('restype');
    const comp = q.get('comp');
    const snapshotId = q.get('sharesnapshot');
    await authenticate(req, account, write, !shareName || restype === 'share');
    if (snapshotId !== null && !shareSnapshotPattern.test(snapshotId))
      throw filesError(
        400,
        'InvalidQueryParameterValue',
        'Value for one of the query parameters specified in the request URI is invalid.',
        { QueryParameterName: 'sharesnapshot', QueryParameterValue: snapshotId },
      );

    if (shareName === undefined || shareName === '') {
      if (method === 'GET' && comp === 'list') return listShares(req, account);
      throw filesError(
        400,
        'InvalidQueryParameterValue',
        'Value for one of the query parameters specified in the request URI is invalid (only List Shares is simulated at the account).',
      );
    }
    const share = shareResource(account, shareName);
    const path = normaliseSharePath(rest.join('/'));

    if (restype === 'share') {
      if (method === 'PUT' && comp === null)
        throw share
          ? filesError(409, 'ShareAlreadyExists', 'The specified share already exists.')
          : filesError(
              400,
              'UnsupportedHttpVerb',
              'Creating shares through the Files data plane is not simulated; create them through ARM (fileServices/default/shares).',
            );
      if (!share) throw notFound.share();
      const properties = (share.body['properties'] ?? {}) as Record<string, unknown>;
      if (method === 'PUT' && comp === 'snapshot') {
        if (snapshotId !== null) throw snapshotReadOnly();
        return snapshotShare(req, share, shareName);
      }
      if (method === 'DELETE' && comp === null)
        return deleteShare(req, account, share, shareName, snapshotId);
      if (snapshotId !== null) {
        const snapshot = store.getSnapshot(accountName, shareName, snapshotId);
        if (!snapshot) throw notFound.snapshot();
        if ((method === 'GET' || method === 'HEAD') && comp === null) {
          // Get Share Properties with sharesnapshot: the snapshot's own (frozen) ETag, time and metadata.
          return {
            status: 200,
            headers: {
              ETag: snapshot.etag,
              'Last-Modified': httpDate(snapshot.lastModified),
              'x-ms-share-quota': String(
                typeof properties['shareQuota'] === 'number' ? properties['shareQuota'] : 5120,
              ),
              'x-ms-access-tier': stringOf(properties, 'accessTier', 'TransactionOptimized'),
              'x-ms-enabled-protocols': stringOf(properties, 'enabledProtocols', 'SMB'),
              ...metadataHeaders(snapshot.metadata),
            },
          };
        }
        throw write
          ? snapshotReadOnly()
          : filesError(
              400,
              'InvalidQueryParameterValue',
              `${method} on a share snapshot${comp ? ` with comp=${comp}` : ''} is not simulated (only Get Share Properties and Delete Share).`,
            );
      }
      if ((method === 'GET' || method === 'HEAD') && comp === 'stats') {
        return {
          status: 200,
          headers: {
            'Content-Type': 'application/xml',
            ETag: shareEtag(share),
            'Last-Modified': httpDate(share.updatedAt),
          },
          body: `<?xml version="1.0" encoding="utf-8"?><ShareStats><ShareUsageBytes>${store.usage(accountName, shareName)}</ShareUsageBytes></ShareStats>`,
        };
      }
      if ((method === 'GET' || method === 'HEAD') && comp === null) {
        const metadata = (properties['metadata'] ?? {}) as Record<string, string>;
        return {
          status: 200,
          headers: {
            ETag: shareEtag(share),
            'Last-Modified': httpDate(share.updatedAt),
            'x-ms-share-quota': String(
              typeof properties['shareQuota'] === 'number' ? properties['shareQuota'] : 5120,
            ),
            'x-ms-access-tier': stringOf(properties, 'accessTier', 'TransactionOptimized'),
            'x-ms-enabled-protocols': stringOf(properties, 'enabledProtocols', 'SMB'),
            'x-ms-lease-state': 'available',
            'x-ms-lease-status': 'unlocked',
            ...metadataHeaders(metadata),
          },
        };
      }
      throw filesError(
        400,
        'UnsupportedHttpVerb',
        `${method} on a share${comp ? ` with comp=${comp}` : ''} is not simulated (only Get Share Properties and Stats, Snapshot Share and Delete Share).`,
      );
    }

    if (!share) throw notFound.share();
    // Directories and files of a share snapshot (2017-04-17 and later): Get File, Get File Properties,
    // List Directories and Files and Get Directory Properties take `sharesnapshot`, "an opaque DateTime
    // value that, when present, specifies the share snapshot to query" (FileREST reference of each).
    // A snapshot is read-only, so every write naming one is refused; every read below looks in it.
    if (snapshotId !== null && write) throw snapshotReadOnly();
    const snapshot = snapshotId === null ? undefined : store.getSnapshot(accountName, shareName, snapshotId);
    if (snapshotId !== null && !snapshot) throw notFound.snapshot();
    const snap = snapshot?.id;
    const parentPath = path.split('/').slice(0, -1).join('/');
    const parentId = () =>
      parentPath === '' ? '0' : (store.get(accountName, shareName, parentPath, snap)?.fileId ?? '0');
    const requireParent = () => {
      if (!store.isDirectory(accountName, shareName, parentPath, snap)) throw notFound.parent();
    };

    if (restype === 'directory') {
      const existing = path === '' ? undefined : store.get(accountName, shareName, path, snap);
      if (method === 'GET' && comp === 'list') {
        if (path !== '' && !store.isDirectory(accountName, shareName, path, snap)) {
          requireParent();
          throw notFound.resource();
        }
        return listDirectory(req, account, shareName, path, snap);
      }
      if (comp !== null && comp !== 'properties' && comp !== 'metadata')
        throw filesError(400, 'InvalidQueryParameterValue', `comp=${comp} is not simulated on directories.`);
      switch (method) {
        case 'PUT': {
          if (comp !== null) {
            if (!existing || existing.kind !== 'directory') {
              if (path !== '') requireParent();
              throw notFound.resource();
            }
            if (comp === 'metadata') existing.metadata = metadataOf(req);
            store.touch(existing);
            return { status: 200, headers: smbHeaders(existing, parentId()) };
          }
          if (path === '')
            throw filesError(409, 'ResourceAlreadyExists', 'The specified resource already exists.');
          requireParent();
          if (existing)
            throw existing.kind === 'directory'
              ? filesError(409, 'ResourceAlreadyExists', 'The specified resource already exists.')
              : filesError(
                  409,
                  'ResourceTypeMismatch',
                  'The specified resource type does not match the type of the existing resource.',
                );
          const directory = store.createDirectory(accountName, shareName, path, metadataOf(req));
          return {
            status: 201,
            headers: { ...smbHeaders(directory, parentId()), 'x-ms-request-server-encrypted': 'true' },
          };
        }
        case 'GET':
        case 'HEAD': {
          if (path === '') {
            return {
              status: 200,
              headers: {
                ETag: snapshot?.etag ?? shareEtag(share),
                'Last-Modified': httpDate(snapshot?.lastModified ?? share.updatedAt),
                'x-ms-file-attributes': 'Directory',
                'x-ms-file-creation-time': smbTime(share.createdAt),
                'x-ms-file-last-write-time': smbTime(share.updatedAt),
                'x-ms-file-change-time': smbTime(share.updatedAt),
                'x-ms-file-id': '0',
                'x-ms-file-parent-id': '0',
                'x-ms-server-encrypted': 'true',
              },
            };
          }
          if (existing?.kind !== 'directory') {
            requireParent();
            throw notFound.resource();
          }
          return {
            status: 200,
            headers: {
              ...smbHeaders(existing, parentId()),
              ...metadataHeaders(existing.metadata),
              'x-ms-server-encrypted': 'true',
            },
          };
        }
        case 'DELETE': {
          if (path === '')
            throw filesError(400, 'InvalidUri', 'The root directory of a share cannot be deleted.');
          if (existing?.kind !== 'directory') {
            requireParent();
            throw notFound.resource();
          }
          if (store.list(accountName, shareName, path).length > 0)
            throw filesError(409, 'DirectoryNotEmpty', 'The specified directory is not empty.');
          store.remove(accountName, shareName, path);
          return { status: 202 };
        }
        default:
          throw filesError(
            405,
            'UnsupportedHttpVerb',
            "The resource doesn't support the specified HTTP verb.",
          );
      }
    }

    if (restype !== null)
      throw filesError(400, 'InvalidQueryParameterValue', `restype=${restype} is not valid here.`);
    if (path === '')
      throw filesError(400, 'InvalidUri', 'The requested URI does not represent any resource on the server.');
    const existing = store.get(accountName, shareName, path, snap);
    const file = existing?.kind === 'file' ? existing : undefined;
    const missing = () => {
      requireParent();
      if (existing?.kind === 'directory')
        return filesError(
          409,
          'ResourceTypeMismatch',
          'The specified resource type does not match the type of the existing resource.',
        );
      return notFound.resource();
    };

    switch (method) {
      case 'PUT': {
        if (comp === 'range') {
          if (!file) throw missing();
          const mode = (header(req, 'x-ms-write') ?? '').toLowerCase();
          if (mode !== 'update' && mode !== 'clear')
            throw filesError(
              400,
              'InvalidHeaderValue',
              'The value for one of the HTTP headers is not in the correct format.',
              {
                HeaderName: 'x-ms-write',
                HeaderValue: header(req, 'x-ms-write') ?? '',
              },
            );
          if (header(req, 'x-ms-structured-body') !== undefined)
            throw filesError(
              400,
              'InvalidHeaderValue',
              'Structured message bodies (CRC64 checksums) are not simulated.',
              {
                HeaderName: 'x-ms-structured-body',
                HeaderValue: header(req, 'x-ms-structured-body') ?? '',
              },
            );
          const rangeText = header(req, 'x-ms-range') ?? header(req, 'range');
          if (rangeText === undefined)
            throw filesError(
              400,
              'MissingRequiredHeader',
              "An HTTP header that's mandatory for this request is not specified.",
              {
                HeaderName: 'x-ms-range',
              },
            );
          const range = parseRange(rangeText, file.content.length, true)!;
          const length = range.end - range.start + 1;
          if (mode === 'update') {
            if (length > maxRangeBytes)
              throw filesError(
                413,
                'RequestBodyTooLarge',
                'The request body is too large and exceeds the maximum permissible limit.',
              );
            if (req.body.length !== length)
              throw filesError(
                400,
                'InvalidHeaderValue',
                'The value for one of the HTTP headers is not in the correct format.',
                {
                  HeaderName: 'Content-Length',
                  HeaderValue: String(req.body.length),
                },
              );
            const md5 = header(req, 'content-md5');
            if (md5 !== undefined && md5 !== createHash('md5').update(req.body).digest('base64'))
              throw filesError(
                400,
                'Md5Mismatch',
                'The MD5 value specified in the request did not match with the MD5 value calculated by the server.',
              );
            req.body.copy(file.content, range.start);
          } else {
            if (req.body.length !== 0)
              throw filesError(
                400,
                'InvalidHeaderValue',
                'The value for one of the HTTP headers is not in the correct format.',
                {
                  HeaderName: 'Content-Length',
                  HeaderValue: String(req.body.length),
                },
              );
            file.content.fill(0, range.start, range.end + 1);
          }
          store.touch(file);
          return {
            status: 201,
            headers: {
              ETag: file.etag,
              'Last-Modified': httpDate(file.modified),
              ...(mode === 'update'
                ? { 'Content-MD5': createHash('md5').update(req.body).digest('base64') }
                : {}),
              'x-ms-request-server-encrypted': 'true',
              'x-ms-file-last-write-time': smbTime(file.modified),
            },
          };
        }
        if (comp === 'properties' || comp === 'metadata') {
          if (!file) throw missing();
          if (comp === 'metadata') file.metadata = metadataOf(req);
          else {
            file.headers = httpHeadersOf(req);
            const size = header(req, 'x-ms-content-length');
            if (size !== undefined) {
              const bytes = Number(size);
              if (!Number.isSafeInteger(bytes) || bytes < 0)
                throw filesError(
                  400,
                  'InvalidHeaderValue',
                  'The value for one of the HTTP headers is not in the correct format.',
                  {
                    HeaderName: 'x-ms-content-length',
                    HeaderValue: size,
                  },
                );
              const resized = Buffer.alloc(bytes);
              file.content.copy(resized, 0, 0, Math.min(bytes, file.content.length));
              file.content = resized;
            }
          }
          store.touch(file);
          return {
            status: 200,
            headers: { ...smbHeaders(file, parentId()), 'x-ms-request-server-encrypted': 'true' },
          };
        }
        if (comp !== null)
          throw filesError(400, 'InvalidQueryParameterValue', `comp=${comp} is not simulated on files.`);
        const copySource = header(req, 'x-ms-copy-source');
        if (copySource !== undefined) {
          requireParent();
          if (existing?.kind === 'directory')
            throw filesError(
              409,
              'ResourceTypeMismatch',
              'The specified resource type does not match the type of the existing resource.',
            );
          return copyFile(req, accountName, shareName, path, copySource);
        }
        if ((header(req, 'x-ms-type') ?? '').toLowerCase() !== 'file')
          throw filesError(
            400,
            'MissingRequiredHeader',
            "An HTTP header that's mandatory for this request is not specified.",
            {
              HeaderName: 'x-ms-type',
            },
          );
        const sizeText = header(req, 'x-ms-content-length');
        const size = Number(sizeText);
        if (sizeText === undefined || !Number.isSafeInteger(size) || size < 0)
          throw filesError(
            400,
            'MissingRequiredHeader',
            "An HTTP header that's mandatory for this request is not specified.",
            {
              HeaderName: 'x-ms-content-length',
            },
          );
        requireParent();
        if (existing?.kind === 'directory')
          throw filesError(
            409,
            'ResourceTypeMismatch',
            'The specified resource type does not match the type of the existing resource.',
          );
        const created = store.createFile(
          accountName,
          shareName,
          path,
          size,
          httpHeadersOf(req),
          metadataOf(req),
        );
        return {
          status: 201,
          headers: { ...smbHeaders(created, parentId()), 'x-ms-request-server-encrypted': 'true' },
        };
      }
      case 'GET':
      case 'HEAD': {
        if (comp !== null)
          throw filesError(400, 'InvalidQueryParameterValue', `comp=${comp} is not simulated on files.`);
        if (!file) throw missing();
        const headers = fileHeaders(file, parentId());
        if (method === 'HEAD') {
          return {
            status: 200,
            headers: {
              ...headers,
              ...(file.headers.contentMD5 ? { 'Content-MD5': file.headers.contentMD5 } : {}),
            },
            body: file.content,
          };
        }
        const range = parseRange(
          header(req, 'x-ms-range') ?? header(req, 'range'),
          file.content.length,
          false,
        );
        if (!range) {
          return {
            status: 200,
            headers: {
              ...headers,
              ...(file.headers.contentMD5 ? { 'Content-MD5': file.headers.contentMD5 } : {}),
            },
            body: file.content,
          };
        }
        const slice = file.content.subarray(range.start, range.end + 1);
        const wantMd5 = header(req, 'x-ms-range-get-content-md5') === 'true';
        if (wantMd5 && slice.length > maxRangeBytes)
          throw filesError(400, 'OutOfRangeInput', 'One of the request inputs is out of range.');
        return {
          status: 206,
          headers: {
            ...headers,
            'Content-Range': `bytes ${range.start}-${range.end}/${file.content.length}`,
            ...(wantMd5 ? { 'Content-MD5': createHash('md5').update(slice).digest('base64') } : {}),
            ...(file.headers.contentMD5 ? { 'x-ms-content-md5': file.headers.contentMD5 } : {}),
          },
          body: Buffer.from(slice),
        };
      }
      case 'DELETE':
        if (!file) throw missing();
        store.remove(accountName, shareName, path);
        return { status: 202 };
      default:
        throw filesError(405, 'UnsupportedHttpVerb', "The resource doesn't support the specified HTTP verb.");
    }
  }

  const shareEtag = (share: StoredResource) =>
    `"0x${createHash('sha256').update(`${share.id}|${share.updatedAt}`).digest('hex').slice(0, 15).toUpperCase()}"`;

  /**
   * Snapshot Share (PUT ?restype=share&comp=snapshot, 2017-04-17 and later): 201 with the new id in
   * x-ms-snapshot. Without x-ms-meta-* the snapshot takes the share's metadata, ETag and
   * Last-Modified; with them, its own metadata and a new ETag and time (Snapshot Share;
   * ShareCreateSnapshotHeaders). More than 200 per share: ShareSnapshotCountExceeded.
   */
  function snapshotShare(req: SimRequest, share: StoredResource, shareName: string): SimResponse {
    const accountName = share.id.split('/')[8] ?? '';
    if (store.snapshotsOf(accountName, shareName).length >= maxShareSnapshots)
      throw filesError(
        409,
        'ShareSnapshotCountExceeded',
        'The total number of snapshots for the share is over the limit.',
      );
    const properties = (share.body['properties'] ?? {}) as Record<string, unknown>;
    const given = metadataOf(req);
    const own = Object.keys(given).length > 0;
    const snapshot = store.createSnapshot(accountName, share.name, {
      etag: own ? `"0x${randomUUID().replace(/-/g, '').slice(0, 15).toUpperCase()}"` : shareEtag(share),
      lastModified: own ? state.clock.now() : share.updatedAt,
      metadata: own ? given : ((properties['metadata'] ?? {}) as Record<string, string>),
    });
    return {
      status: 201,
      headers: {
        'x-ms-snapshot': snapshot.id,
        ETag: snapshot.etag,
        'Last-Modified': httpDate(snapshot.lastModified),
      },
    };
  }

  /**
   * Delete Share (DELETE ?restype=share). With sharesnapshot it deletes that snapshot only. The
   * share itself: a share with snapshots is refused with ShareHasSnapshots (409, "Azure Files error
   * codes") unless x-ms-delete-snapshots is `include` (snapshots without an active lease) or
   * `include-leased` (Delete Share; ShareSnapshotsDeleteOption). Share leases are not simulated, so
   * both delete every snapshot. The share leaves ARM too: the data plane and the resource provider
   * manage the same share.
   */
  function deleteShare(
    req: SimRequest,
    account: StoredResource,
    share: StoredResource,
    shareName: string,
    snapshotId: string | null,
  ): SimResponse {
    if (snapshotId !== null) {
      if (!store.deleteSnapshot(account.name, shareName, snapshotId)) throw notFound.snapshot();
      return { status: 202 };
    }
    const option = header(req, 'x-ms-delete-snapshots');
    if (option !== undefined && option !== 'include' && option !== 'include-leased')
      throw filesError(
        400,
        'InvalidHeaderValue',
        'The value for one of the HTTP headers is not in the correct format.',
        { HeaderName: 'x-ms-delete-snapshots', HeaderValue: option },
      );
    if (option === undefined && store.snapshotsOf(account.name, shareName).length > 0)
      throw filesError(
        409,
        'ShareHasSnapshots',
        'The share has snapshots and the operation requires no snapshots.',
      );
    state.remove(share.id);
    store.drop(account.name, shareName);
    return { status: 202 };
  }

  /**
   * Copy File (PUT with x-ms-copy-source): copies a file of the same account, or of one of its share
   * snapshots ("You can also specify a file in a share snapshot as a copy source"), authorised by
   * the request's own Shared Key ("To copy a file to another file within the same storage account,
   * you can use Shared Key to authorize the source file"). The destination is overwritten; without
   * x-ms-meta-* it takes the source's metadata, and it takes the source's HTTP properties (Copy
   * File). The service may answer `pending` and finish later; here a copy within the account
   * completes at once (`success`), so callers must handle both. Sources in other accounts or
   * blobs (which need a SAS) are not simulated.
   */
  function copyFile(
    req: SimRequest,
    accountName: string,
    shareName: string,
    path: string,
    source: string,
  ): SimResponse {
    const invalidSource = (why: string) =>
      filesError(
        400,
        'InvalidHeaderValue',
        `The value for one of the HTTP headers is not in the correct format. ${why}`,
        {
          HeaderName: 'x-ms-copy-source',
          HeaderValue: source.split('?')[0] ?? '',
        },
      );
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      throw invalidSource('It is not a URL.');
    }
    const host = header(req, 'host') ?? req.url.host;
    const [sourceAccount = '', sourceShare = '', ...sourceRest] = url.pathname
      .split('/')
      .slice(1)
      .map((segment) => decodeURIComponent(segment));
    if (url.host !== host || sourceAccount !== accountName)
      throw invalidSource('Only files of the same storage account are simulated as copy sources.');
    const sourceSnapshot = url.searchParams.get('sharesnapshot') ?? undefined;
    const sourceMissing = () =>
      filesError(404, 'CannotVerifyCopySource', 'The specified resource does not exist.');
    const account = accountResource(accountName);
    if (!account || !shareResource(account, sourceShare)) throw sourceMissing();
    if (sourceSnapshot !== undefined && !store.getSnapshot(accountName, sourceShare, sourceSnapshot))
      throw sourceMissing();
    const from = store.get(accountName, sourceShare, sourceRest.join('/'), sourceSnapshot);
    if (from?.kind !== 'file') throw sourceMissing();
    const given = metadataOf(req);
    const copied = store.createFile(
      accountName,
      shareName,
      path,
      0,
      { ...from.headers },
      Object.keys(given).length > 0 ? given : { ...from.metadata },
    );
    copied.content = Buffer.from(from.content);
    // The recorded source never carries a query but the snapshot: a SAS stays out of properties.
    const recorded = new URL(`${url.origin}${url.pathname}`);
    if (sourceSnapshot !== undefined) recorded.searchParams.set('sharesnapshot', sourceSnapshot);
    copied.copy = {
      id: randomUUID(),
      source: recorded.toString(),
      status: 'success',
      progress: `${copied.content.length}/${copied.content.length}`,
      completed: copied.modified,
    };
    return {
      status: 202,
      headers: {
        ETag: copied.etag,
        'Last-Modified': httpDate(copied.modified),
        'x-ms-copy-id': copied.copy.id,
        'x-ms-copy-status': copied.copy.status,
      },
    };
  }

  function listShares(req: SimRequest, account: StoredResource): SimResponse {
    const q = req.url.searchParams;
    const prefix = q.get('prefix') ?? '';
    const include = (q.get('include') ?? '').split(',');
    const withMetadata = include.includes('metadata');
    const withSnapshots = include.includes('snapshots');
    const shares = state
      .find('Microsoft.Storage/storageAccounts/fileServices/shares', account.id)
      .filter((share) => share.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // include=snapshots (2017-04-17 and later): "Share snapshots are listed from oldest to newest"
    // (List Shares). Where the base share stands among its snapshots is not documented; here it
    // follows them, as a base blob follows its snapshots in List Blobs. The marker is opaque.
    const listed = shares.flatMap((share) => [
      ...(withSnapshots
        ? store.snapshotsOf(account.name, share.name).map((snapshot) => ({ share, snapshot }))
        : []),
      { share, snapshot: undefined },
    ]);
    const page = paginate(
      listed,
      (item) => (withSnapshots ? `${item.share.name}/${item.snapshot?.id ?? '~'}` : item.share.name),
      q,
    );
    const items = page.items
      .map(({ share, snapshot }) => {
        const properties = (share.body['properties'] ?? {}) as Record<string, unknown>;
        const metadata = snapshot?.metadata ?? ((properties['metadata'] ?? {}) as Record<string, string>);
        return (
          `<Share><Name>${escapeXml(share.name)}</Name>${snapshot ? `<Snapshot>${snapshot.id}</Snapshot>` : ''}<Properties><Last-Modified>${httpDate(snapshot?.lastModified ?? share.updatedAt)}</Last-Modified><Etag>${snapshot?.etag ?? shareEtag(share)}</Etag>` +
          `<Quota>${typeof properties['shareQuota'] === 'number' ? properties['shareQuota'] : 5120}</Quota><AccessTier>${escapeXml(stringOf(properties, 'accessTier', 'TransactionOptimized'))}</AccessTier>` +
          `<EnabledProtocols>${escapeXml(stringOf(properties, 'enabledProtocols', 'SMB'))}</EnabledProtocols><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState></Properties>` +
          (withMetadata
            ? `<Metadata>${Object.entries(metadata)
                .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
                .join('')}</Metadata>`
            : '') +
          '</Share>'
        );
      })
      .join('');
    const body = `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${escapeXml(`${req.url.origin}/${account.name}/`)}">${prefix ? `<Prefix>${escapeXml(prefix)}</Prefix>` : ''}${page.markerXml}<Shares>${items}</Shares><NextMarker>${escapeXml(page.next)}</NextMarker></EnumerationResults>`;
    return { status: 200, headers: { 'Content-Type': 'application/xml' }, body };
  }

  function listDirectory(
    req: SimRequest,
    account: StoredResource,
    shareName: string,
    path: string,
    snapshot: string | undefined,
  ): SimResponse {
    const q = req.url.searchParams;
    const prefix = q.get('prefix') ?? '';
    const include = new Set((q.get('include') ?? '').split(',').map((item) => item.trim().toLowerCase()));
    const nameOf = (entry: StoredShareEntry) => entry.path.split('/').pop() ?? '';
    const entries = store
      .list(account.name, shareName, path, snapshot)
      .filter((entry) => nameOf(entry).toLowerCase().startsWith(prefix.toLowerCase()));
    const page = paginate(entries, nameOf, q);
    const items = page.items
      .map((entry) => {
        const tag = entry.kind === 'file' ? 'File' : 'Directory';
        const properties =
          (entry.kind === 'file' ? `<Content-Length>${entry.content.length}</Content-Length>` : '') +
          (include.has('timestamps')
            ? `<CreationTime>${smbTime(entry.created)}</CreationTime><LastAccessTime>${smbTime(entry.modified)}</LastAccessTime><LastWriteTime>${smbTime(entry.modified)}</LastWriteTime><ChangeTime>${smbTime(entry.modified)}</ChangeTime><Last-Modified>${httpDate(entry.modified)}</Last-Modified>`
            : '') +
          (include.has('etag') ? `<Etag>${entry.etag}</Etag>` : '');
        return (
          `<${tag}><FileId>${entry.fileId}</FileId><Name>${escapeXml(nameOf(entry))}</Name><Properties>${properties}</Properties>` +
          (include.has('attributes')
            ? `<Attributes>${entry.kind === 'file' ? 'Archive' : 'Directory'}</Attributes>`
            : '') +
          (include.has('permissionkey') ? '<PermissionKey>4066528134148476695*1</PermissionKey>' : '') +
          `</${tag}>`
        );
      })
      .join('');
    const directoryId =
      path === '' ? '0' : (store.get(account.name, shareName, path, snapshot)?.fileId ?? '0');
    const body =
      `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${escapeXml(`${req.url.origin}/${account.name}/`)}" ShareName="${escapeXml(shareName)}" DirectoryPath="${escapeXml(path)}">` +
      `${prefix ? `<Prefix>${escapeXml(prefix)}</Prefix>` : ''}${page.markerXml}<DirectoryId>${directoryId}</DirectoryId><Entries>${items}</Entries><NextMarker>${escapeXml(page.next)}</NextMarker></EnumerationResults>`;
    return { status: 200, headers: { 'Content-Type': 'application/xml' }, body };
  }

  /** Pages a sorted list: `marker` is the name to resume at, `maxresults` at most 5000. */
  function paginate<T>(
    items: T[],
    nameOf: (item: T) => string,
    q: URLSearchParams,
  ): { items: T[]; next: string; markerXml: string } {
    const marker = q.get('marker') ?? '';
    const max = Math.min(Number(q.get('maxresults') ?? '5000') || 5000, 5000);
    const from = marker === '' ? 0 : items.findIndex((item) => nameOf(item) >= marker);
    const start = from < 0 ? items.length : from;
    const page = items.slice(start, start + max);
    const following = items[start + max];
    return {
      items: page,
      next: following === undefined ? '' : nameOf(following),
      markerXml: `${marker ? `<Marker>${escapeXml(marker)}</Marker>` : ''}${q.has('maxresults') ? `<MaxResults>${max}</MaxResults>` : ''}`,
    };
  }

  return {
    name: 'file',
    prefix: '/file/',
    async handle(req) {
      const segments = req.url.pathname
        .split('/')
        .slice(2)
        .map((segment) => decodeURIComponent(segment));
      const [accountName = '', ...rest] = segments;
      const version = header(req, 'x-ms-version');
      const common = {
        'x-ms-request-id': randomUUID(),
        ...(version !== undefined ? { 'x-ms-version': version } : {}),
        Date: new Date().toUTCString(),
      };
      try {
        state.tick();
        if (version === undefined)
          throw filesError(
            400,
            'MissingRequiredHeader',
            "An HTTP header that's mandatory for this request is not specified.",
            {
              HeaderName: 'x-ms-version',
            },
          );
        if (!fileServiceVersions.includes(version))
          throw filesError(
            400,
            'InvalidHeaderValue',
            `The value for one of the HTTP headers is not in the correct format. The simulator answers x-ms-version ${fileServiceVersions.join(', ')}.`,
            { HeaderName: 'x-ms-version', HeaderValue: version },
          );
        const response = await route(req, accountName, rest);
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
