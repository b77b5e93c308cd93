import type { TokenCredential } from '@azure/core-auth';
import type { HttpMethods } from '@azure/core-rest-pipeline';
import { getOrUndefined } from './ensure.js';
import { createRestPipeline, type RestSend } from './restPipeline.js';

/** Microsoft Graph's answer to a failed call: its error code and message, and the HTTP status. */
export class GraphError extends Error {
  override readonly name = 'GraphError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface EntraApplication {
  /** Object id. */
  id: string;
  /** Application (client) id. */
  appId: string;
  displayName: string;
  redirectUris: string[];
  passwordCredentials: { keyId: string; displayName: string | null }[];
}

export interface EntraGroup {
  id: string;
  displayName: string;
}

/** An Entra object of the footprint's name that the broker may only touch when it owns it. */
export type OwnedObjectKind = 'application' | 'group';

/** Display name the broker gives the client secrets it creates, so it can find its own. */
export const BROKER_SECRET_DISPLAY_NAME = 'claw-broker';

/**
 * A small Microsoft Graph v1.0 client for the Entra objects of a slug (app registration, service
 * principal, group, client secret), on the Azure SDK's HTTP pipeline (restPipeline.ts): a span per
 * call, Retry-After honoured on 429/503, other 5xx and network errors retried only for idempotent
 * methods, a timeout per attempt. The endpoint and the token scope come from configuration
 * (`MICROSOFT_GRAPH_ENDPOINT`), like every other Azure endpoint. Other errors throw a GraphError
 * with Graph's code. It never logs bodies: addPassword answers carry a secret.
 *
 * Ownership: the broker finds its objects by display name, and Entra lets anyone make an object of
 * any name, so it tells its own by Entra's `owners` relationship: groups are created with the
 * broker as owner (`owners@odata.bind`), applications get it added (`POST .../owners/$ref`), and
 * `ownedBy` asks from the owner's side (`GET /servicePrincipals/{id}/ownedObjects`), because Graph
 * v1.0 leaves service principals out of a group's owner list. References use the generic
 * `directoryObjects/{id}` form, which Graph accepts for a service principal and a user alike.
 *
 * Why not @microsoft/microsoft-graph-client: it is not among the project's dependencies, and the
 * broker needs a handful of calls.
 */
export class EntraClient {
  private readonly send: RestSend;

  constructor(
    credential: TokenCredential,
    private readonly graphEndpoint: string,
    options: { retryDelayMs?: number } = {},
  ) {
    this.send = createRestPipeline({
      credential,
      scope: `${graphEndpoint.replace(/\/+$/, '')}/.default`,
      ...options,
    });
  }

  async findApplication(displayName: string): Promise<EntraApplication | undefined> {
    const found = await this.list<RawApplication>(`/applications?$filter=${eq('displayName', displayName)}`);
    return found[0] && applicationOf(found[0]);
  }

  /** An application by object id; undefined on 404 (gone, or not replicated yet: the caller knows which). */
  async getApplication(id: string): Promise<EntraApplication | undefined> {
    const raw = await getOrUndefined(() =>
      this.call<RawApplication>('GET', `/applications/${encodeURIComponent(id)}`),
    );
    return raw && applicationOf(raw);
  }

  async createApplication(body: ApplicationBody): Promise<EntraApplication> {
    return applicationOf(await this.call<RawApplication>('POST', '/applications', body));
  }

  /**
   * Adds a directory object (the broker's service principal) as an owner of an application. False
   * when it already was one: Graph answers a duplicate reference with 400, and a tenant may make the
   * creating service principal an owner by itself.
   */
  async addApplicationOwner(applicationId: string, ownerId: string): Promise<boolean> {
    try {
      await this.call('POST', `/applications/${applicationId}/owners/$ref`, {
        '@odata.id': this.directoryObjectUrl(ownerId),
      });
      return true;
    } catch (error) {
      if (isDuplicateReference(error)) return false;
      throw error;
    }
  }

  /**
   * Whether `principalId` owns the application or group `objectId`, asked from the owner's side
   * (`GET /servicePrincipals/{id}/ownedObjects`, or `/users/{id}/ownedObjects` for a developer
   * signed in as a user): Graph v1.0 does not list service principals among a group's owners
   * (group-list-owners), so reading the group's owners would never find the broker.
   */
  async ownedBy(principalId: string, objectId: string): Promise<boolean> {
    const owned = async (collection: 'servicePrincipals' | 'users') =>
      (
        await this.listAll<{ id: string }>(`/${collection}/${principalId}/ownedObjects?$select=id&$top=999`)
      ).some((object) => object.id === objectId);
    try {
      return await owned('servicePrincipals');
    } catch (error) {
      if (error instanceof GraphError && error.statusCode === 404) return owned('users');
      throw error;
    }
  }

  async updateApplication(id: string, body: Partial<ApplicationBody>): Promise<void> {
    await this.call('PATCH', `/applications/${id}`, body);
  }

  async findServicePrincipal(appId: string): Promise<{ id: string } | undefined> {
    const found = await this.list<{ id: string }>(`/servicePrincipals?$filter=${eq('appId', appId)}`);
    return found[0];
  }

  /**
   * Creates the application's service principal. False when it already exists (409
   * Request_MultipleObjectsWithSameKeyValue: one made since a lookup that a replica answered).
   * Right after the application is created Graph may answer 400 "does not reference a valid
   * application object": see isReplicationLag.
   */
  async createServicePrincipal(appId: string): Promise<boolean> {
    try {
      await this.call('POST', '/servicePrincipals', { appId });
      return true;
    } catch (error) {
      if (error instanceof GraphError && error.statusCode === 409) return false;
      throw error;
    }
  }

  async findGroup(displayName: string): Promise<EntraGroup | undefined> {
    const found = await this.list<EntraGroup>(`/groups?$filter=${eq('displayName', displayName)}`);
    return found[0] && { id: found[0].id, displayName: found[0].displayName };
  }

  /** Creates a security group with `ownerId` (the broker's own object id) as its owner. */
  async createGroup(displayName: string, description: string, ownerId: string): Promise<EntraGroup> {
    const group = await this.call<EntraGroup>('POST', '/groups', {
      displayName,
      description,
      mailNickname: displayName,
      mailEnabled: false,
      securityEnabled: true,
      'owners@odata.bind': [this.directoryObjectUrl(ownerId)],
    });
    return { id: group.id, displayName: group.displayName };
  }

  /** A group by object id; undefined on 404 (gone, or not replicated yet). */
  async getGroup(id: string): Promise<EntraGroup | undefined> {
    const group = await getOrUndefined(() =>
      this.call<EntraGroup>('GET', `/groups/${encodeURIComponent(id)}`),
    );
    return group && { id: group.id, displayName: group.displayName };
  }

  /** Adds a client secret; the returned text is a secret: store it, never return or log it. */
  async addPassword(
    applicationId: string,
    displayName: string,
  ): Promise<{ keyId: string; secretText: string }> {
    return this.call<{ keyId: string; secretText: string }>(
      'POST',
      `/applications/${applicationId}/addPassword`,
      {
        passwordCredential: { displayName },
      },
    );
  }

  async removePassword(applicationId: string, keyId: string): Promise<void> {
    await this.call('POST', `/applications/${applicationId}/removePassword`, { keyId });
  }

  /** Deletes an app registration (it goes to Entra's deleted items). False when it was already gone. */
  async deleteApplication(id: string): Promise<boolean> {
    return this.deleteOrMissing(`/applications/${id}`);
  }

  /** Deletes a group. False when it was already gone. */
  async deleteGroup(id: string): Promise<boolean> {
    return this.deleteOrMissing(`/groups/${id}`);
  }

  /** The reference Graph takes in `@odata.id` / `@odata.bind`, on the configured Graph endpoint. */
  private directoryObjectUrl(id: string): string {
    return `${this.graphEndpoint.replace(/\/+$/, '')}/v1.0/directoryObjects/${encodeURIComponent(id)}`;
  }

  private async deleteOrMissing(path: string): Promise<boolean> {
    try {
      await this.call('DELETE', path);
      return true;
    } catch (error) {
      if (error instanceof GraphError && error.statusCode === 404) return false;
      throw error;
    }
  }

  private async list<T>(path: string): Promise<T[]> {
    return (await this.call<{ value: T[] }>('GET', path)).value;
  }

  /** Every page of a collection, following `@odata.nextLink` (on the same Graph endpoint). */
  private async listAll<T>(path: string): Promise<T[]> {
    const base = `${this.graphEndpoint.replace(/\/+$/, '')}/v1.0`;
    const items: T[] = [];
    for (let next: string | undefined = path; next !== undefined;) {
      const page: { value: T[]; '@odata.nextLink'?: string } = await this.call('GET', next);
      items.push(...page.value);
      const link = page['@odata.nextLink'];
      if (link !== undefined && !link.startsWith(base))
        throw new GraphError(
          502,
          'UnexpectedNextLink',
          `Microsoft Graph paged to another host: ${link.split('?')[0]}`,
        );
      next = link?.slice(base.length);
    }
    return items;
  }

  private async call<T>(method: HttpMethods, path: string, body?: unknown): Promise<T> {
    const response = await this.send({
      method,
      url: `${this.graphEndpoint.replace(/\/+$/, '')}/v1.0${path}`,
      ...(body === undefined ? {} : { body }),
    });
    if (response.status >= 200 && response.status < 300) {
      return (response.text ? JSON.parse(response.text) : undefined) as T;
    }
    let error: { error?: { code?: string; message?: string } } = {};
    try {
      error = JSON.parse(response.text) as typeof error;
    } catch {
      // not JSON
    }
    throw new GraphError(
      response.status,
      error.error?.code ?? `Http${response.status}`,
      `Microsoft Graph ${method} ${path.split('?')[0]}: ${error.error?.message ?? `HTTP ${response.status}`}`,
    );
  }
}

export interface ApplicationBody {
  displayName: string;
  signInAudience: 'AzureADMyOrg';
  groupMembershipClaims: 'SecurityGroup';
  web: { redirectUris: string[]; implicitGrantSettings: { enableIdTokenIssuance: boolean } };
}

interface RawApplication {
  id: string;
  appId: string;
  displayName: string;
  web?: { redirectUris?: string[] };
  passwordCredentials?: { keyId: string; displayName: string | null }[];
}

function applicationOf(raw: RawApplication): EntraApplication {
  return {
    id: raw.id,
    appId: raw.appId,
    displayName: raw.displayName,
    redirectUris: raw.web?.redirectUris ?? [],
    passwordCredentials: (raw.passwordCredentials ?? []).map(({ keyId, displayName }) => ({
      keyId,
      displayName,
    })),
  };
}

/**
 * Whether Graph's answer means the directory has not replicated a fresh object yet, so the same call
 * succeeds later. Entra is eventually consistent: "a newly created object [may] return a 'Not
 * Found'" (Microsoft Entra blog, "Designing for Eventual Consistency for Microsoft Entra", 2026), so
 * a 404 Request_ResourceNotFound on an object the broker just created or found (its owner
 * reference, addPassword, an update) is a wait; so is the 400 that `POST /servicePrincipals`
 * answers for an appId a replica does not know yet ("... does not reference a valid application
 * object", met by azure-cli and Terraform users right after creating the application). Callers use
 * it only for objects they know exist: for an object really gone the wait ends in their timeout.
 */
export function isReplicationLag(error: unknown): error is GraphError {
  return (
    error instanceof GraphError &&
    ((error.statusCode === 404 && error.code === 'Request_ResourceNotFound') ||
      (error.statusCode === 400 && /does not reference a valid application object/i.test(error.message)))
  );
}

/**
 * An Entra object the broker recorded by id, read by id. A 404 within `allowanceMs` of when it was
 * recorded is replication (thrown as Graph's 404, so isReplicationLag makes the caller wait); later,
 * the object was deleted since, and the answer is undefined.
 */
export async function readRecorded<T>(
  kind: OwnedObjectKind,
  entry: { id: string; at: string } | undefined,
  read: (id: string) => Promise<T | undefined>,
  allowanceMs: number,
): Promise<T | undefined> {
  if (!entry) return undefined;
  const found = await read(entry.id);
  if (found || Date.now() - Date.parse(entry.at) >= allowanceMs) return found;
  throw new GraphError(
    404,
    'Request_ResourceNotFound',
    `Entra ${kind} ${entry.id}, created for this slug at ${entry.at}, is not readable yet (directory replication)`,
  );
}

/** Graph's 400 for adding a reference (owner, member) that is already there. */
function isDuplicateReference(error: unknown): boolean {
  return (
    error instanceof GraphError &&
    error.statusCode === 400 &&
    /added object references already exist/i.test(error.message)
  );
}

function eq(property: string, value: string): string {
  return encodeURIComponent(`${property} eq '${value.replace(/'/g, "''")}'`);
}
