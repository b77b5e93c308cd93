import { createHash } from 'node:crypto';

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
  brokerVaultUri: string;
}): StagingPlan {
  const entries = Object.entries(input.secrets);
  if (entries.length === 0) return { ok: true, params: input.params, toStage: [] };
  if (input.op !== 'provision') {
    return { ok: false, path: 'secrets', message: `only provision requests take secrets, not ${input.op}` };
  }
  const params = structuredClone(input.params);
  const toStage: SecretToStage[] = [];
  const vault = input.brokerVaultUri.endsWith('/') ? input.brokerVaultUri : `${input.brokerVaultUri}/`;
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
    const ref = { secretRef: `${vault}secrets/${name}` };
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
