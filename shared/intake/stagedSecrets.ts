import { createHash } from 'node:crypto';
import type { LifecycleRequest } from '../requests/lifecycleRequest.js';
import type { RequestIssue } from '../requests/parseLifecycleRequest.js';

/**
 * Secrets a provision request may supply. They never travel in a request: the HTTP API stages each
 * in the broker's own Key Vault and the request carries `{ secretRef }`; provisioning moves it to
 * the slug's vault and deletes the staged copy.
 */
export const STAGEABLE_SECRETS = ['telegramBotToken', 'foundryApiKey'] as const;
export type StageableSecret = (typeof STAGEABLE_SECRETS)[number];

/** The largest secret value the API stages (Key Vault allows 25 KiB; bot tokens and keys are tiny). */
export const MAX_STAGED_SECRET_BYTES = 4_096;

export interface SecretToStage {
  name: string;
  value: string;
}

export type StagingPlan =
  | { ok: true; params: Record<string, unknown>; toStage: SecretToStage[] }
  | { ok: false; path: string; message: string };

/**
 * The staged secret's name in the broker vault: derived from the request id (hashed, so any
 * request id makes a valid Key Vault name), so staging the same request twice writes the same name.
 */
export function stagedSecretName(requestId: string, secret: StageableSecret): string {
  const digest = createHash('sha256').update(requestId).digest('hex').slice(0, 32);
  return `staged-${digest}-${secret.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The URI of the secret staged for `requestId` in the broker vault (versionless). */
export function stagedSecretUri(stagingVaultUri: string, requestId: string, secret: StageableSecret): string {
  return `${stagingVaultUri.replace(/\/+$/, '')}/secrets/${stagedSecretName(requestId, secret)}`;
}

/** Where a provision request may carry a `{ secretRef }`, and which staged secret each one is. */
function secretReferences(
  request: LifecycleRequest,
): { path: string; secret: StageableSecret; ref: string }[] {
  if (request.op !== 'provision') return [];
  const refs: { path: string; secret: StageableSecret; ref: string }[] = [];
  const bot = request.params.telegramBotToken?.secretRef;
  if (bot !== undefined)
    refs.push({ path: 'params.telegramBotToken.secretRef', secret: 'telegramBotToken', ref: bot });
  const key = request.params.foundry?.apiKey?.secretRef;
  if (key !== undefined)
    refs.push({ path: 'params.foundry.apiKey.secretRef', secret: 'foundryApiKey', ref: key });
  return refs;
}

/**
 * Whether `ref` names exactly the secret staged for this request: the broker vault's staging name
 * derived from the request id, on the configured vault host (a version segment is allowed). Anything
 * else, another vault (a slug's, an attacker's host) or another name in the broker vault (the broker's
 * own bot token, another request's staged secret), is refused.
 */
export function isOwnStagedSecret(
  ref: string,
  stagingVaultUri: string,
  requestId: string,
  secret: StageableSecret,
): boolean {
  const expected = stagedSecretUri(stagingVaultUri, requestId, secret);
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    return false;
  }
  if (url.search || url.hash || url.username || url.password) return false;
  const versionless = `${url.origin}${url.pathname.replace(/\/[0-9a-f]{32}$/, '')}`;
  return versionless === new URL(expected).href;
}

/**
 * Refuses every `{ secretRef }` of a request that does not name the secret staged for this very
 * request in the broker vault (see isOwnStagedSecret). Run at intake, before any Azure call, so no
 * request can make the broker open a vault other than its own staging names: not another slug's
 * vault, not the broker's own secrets, not an arbitrary HTTPS host (which would also receive the
 * broker's bearer token).
 */
export function checkSecretReferences(request: LifecycleRequest, stagingVaultUri: string): RequestIssue[] {
  return secretReferences(request)
    .filter(({ ref, secret }) => !isOwnStagedSecret(ref, stagingVaultUri, request.requestId, secret))
    .map(({ path, secret }) => ({
      path,
      message: `a secretRef may only name the secret staged for this request (${stagedSecretUri(stagingVaultUri, request.requestId, secret)}); stage secrets through POST /api/requests { secrets }`,
    }));
}

/**
 * Puts a `{ secretRef }` for each supplied secret where the provision params expect it, and lists
 * what to write to the broker vault. Refuses a secret for another operation, an unknown secret, an
 * empty or oversized value, and a Foundry key without the foundry params it belongs to.
 */
export function planStagedSecrets(input: {
  op: string;
  requestId: string;
  params: Record<string, unknown>;
  secrets: Record<string, string>;
  stagingVaultUri: string;
}): StagingPlan {
  const entries = Object.entries(input.secrets);
  if (entries.length === 0) return { ok: true, params: input.params, toStage: [] };
  if (input.op !== 'provision') {
    return { ok: false, path: 'secrets', message: `only provision requests take secrets, not ${input.op}` };
  }
  const params = structuredClone(input.params);
  const toStage: SecretToStage[] = [];
  for (const [key, value] of entries) {
    if (!(STAGEABLE_SECRETS as readonly string[]).includes(key)) {
      return {
        ok: false,
        path: `secrets.${key}`,
        message: `unknown secret; expected one of ${STAGEABLE_SECRETS.join(', ')}`,
      };
    }
    if (value.trim().length === 0) return { ok: false, path: `secrets.${key}`, message: 'empty secret' };
    if (Buffer.byteLength(value) > MAX_STAGED_SECRET_BYTES) {
      return { ok: false, path: `secrets.${key}`, message: `longer than ${MAX_STAGED_SECRET_BYTES} bytes` };
    }
    const name = stagedSecretName(input.requestId, key as StageableSecret);
    const ref = {
      secretRef: stagedSecretUri(input.stagingVaultUri, input.requestId, key as StageableSecret),
    };
    if (key === 'telegramBotToken') {
      params['telegramBotToken'] = ref;
    } else {
      const foundry = params['foundry'];
      if (!foundry || typeof foundry !== 'object' || Array.isArray(foundry)) {
        return {
          ok: false,
          path: 'secrets.foundryApiKey',
          message: 'a Foundry key needs params.foundry (endpoint, deployment)',
        };
      }
      (foundry as Record<string, unknown>)['apiKey'] = ref;
    }
    toStage.push({ name, value });
  }
  return { ok: true, params, toStage };
}
