import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { ErrorCodes, BrokerError } from './errors.js';
import { parseDuration } from './duration.js';
import { isCalendarVersion } from './domain/openclawVersion.js';
import { LIFECYCLE_OPS, type LifecycleOp } from './requests/lifecycleRequest.js';

/**
 * The broker's configuration, read once from the app settings (environment variables), validated,
 * and frozen. A missing or malformed setting fails start-up with a message naming the setting and
 * what it expects. Secrets are never configuration values: the Telegram bot token and webhook secret
 * are Key Vault secret URIs that the broker resolves with its own identity.
 *
 * This is the only module that reads `process.env`.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_VAULT_SECRET_URI = /^https:\/\/[^/\s]+\/secrets\/[0-9A-Za-z-]{1,127}(\/[0-9a-f]{32})?\/?$/;
const ARM_RESOURCE_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i;
const AZURE_LOCATION = /^[a-z][a-z0-9]{2,39}$/;
/** Azure Functions NCRONTAB: six fields, seconds first. */
const NCRONTAB = /^\s*(\S+\s+){5}\S+\s*$/;

/**
 * A six-field NCRONTAB schedule (second minute hour day month day-of-week), as the Functions timer
 * trigger takes it, checked field by field by cron-parser (the local host's timer uses it too), so
 * `0 0 99 * * *` fails at start-up, not at the first timer.
 */
const ncrontab = (example: string) =>
  matching(NCRONTAB, `a six-field NCRONTAB schedule such as "${example}"`).superRefine((value, ctx) => {
    try {
      CronExpressionParser.parse(value.trim(), { strict: false });
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `not a valid schedule (${(error as Error).message}); expected six fields such as "${example}"`,
      });
    }
  });

const text = (expected: string) =>
  z
    .string({
      error: (issue) =>
        issue.input === undefined ? `missing; expected ${expected}` : `expected ${expected}`,
    })
    .trim()
    .min(1, `empty; expected ${expected}`);

const matching = (pattern: RegExp, expected: string) => text(expected).regex(pattern, `expected ${expected}`);

const duration = (expected: string, fallback: string, maxMs?: number) =>
  text(expected)
    .default(fallback)
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}, got "${value}"` });
        return z.NEVER;
      }
      if (maxMs !== undefined && ms > maxMs) {
        ctx.addIssue({
          code: 'custom',
          message: `"${value}" is longer than the allowed maximum (${maxMs / 86_400_000}d)`,
        });
        return z.NEVER;
      }
      return ms;
    });

const keyVaultSecretRef = (what: string) =>
  text(
    `a Key Vault secret URI for ${what} (https://<vault>.vault.azure.net/secrets/<name>), never the value`,
  ).refine(
    (value) => KEY_VAULT_SECRET_URI.test(value),
    `expected a Key Vault secret URI for ${what} (https://<vault>.vault.azure.net/secrets/<name>); the setting must reference the secret, never hold its value`,
  );

const booleanSetting = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1');

const integerList = (expected: string) =>
  text(expected).transform((value, ctx) => {
    const items = value.split(',').map((item) => item.trim());
    if (items.some((item) => !/^-?\d{1,20}$/.test(item))) {
      ctx.addIssue({ code: 'custom', message: `expected ${expected}, got "${value}"` });
      return z.NEVER;
    }
    return Object.freeze(items);
  });

const SEVEN_DAYS_MS = 7 * 86_400_000;

/** An operator identity as the broker names it: an Entra object id, or the function key's configured name. */
const OPERATOR_ID = /^[A-Za-z0-9@._-]{1,128}$/;

const operatorIdList = (expected: string) =>
  z
    .string()
    .trim()
    .default('')
    .transform((value, ctx) => {
      const items = value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      if (items.some((item) => !OPERATOR_ID.test(item))) {
        ctx.addIssue({ code: 'custom', message: `expected ${expected}` });
        return z.NEVER;
      }
      return Object.freeze(items.map((item) => (GUID.test(item) ? item.toLowerCase() : item)));
    });

/** `<telegram user id>=<operator id>` pairs: one person's accounts in both channels. */
const identityLinks = z
  .string()
  .trim()
  .default('')
  .transform((value, ctx) => {
    const links: Record<string, string> = {};
    for (const item of value.split(',').map((entry) => entry.trim())) {
      if (item === '') continue;
      const match = /^(-?\d{1,20})=([A-Za-z0-9@._-]{1,128})$/.exec(item);
      if (!match) {
        ctx.addIssue({
          code: 'custom',
          message: 'expected comma-separated <telegram user id>=<operator object id> pairs',
        });
        return z.NEVER;
      }
      const operator = match[2]!;
      links[match[1]!] = GUID.test(operator) ? operator.toLowerCase() : operator;
    }
    return Object.freeze(links);
  });

/** Who must approve an operation that asks for approval. */
export interface ApprovalPolicy {
  /** How many distinct approvers must approve; one rejection is enough to reject. */
  readonly approvers: number;
  /** Whether the person who requested the operation may count as one of its approvers. */
  readonly requesterMayApprove: boolean;
  /**
   * Whether APPROVAL_POLICY names the operation. Teardown always asks for approval; an operation
   * that asks only when configured (a manual upgrade) asks when this is true.
   */
  readonly configured?: boolean;
}

export const DEFAULT_APPROVAL_POLICY: ApprovalPolicy = { approvers: 1, requesterMayApprove: false };

const approvalPolicyEntry = z
  .object({
    approvers: z.number().int().min(1).max(5).optional(),
    requesterMayApprove: z.boolean().optional(),
  })
  .strict();

const approvalPolicySetting = text(
  'a JSON object of per-operation approval policies such as {"teardown":{"approvers":2,"requesterMayApprove":false}}',
)
  .default('{}')
  .transform((value, ctx) => {
    const expected =
      'expected a JSON object of per-operation approval policies such as {"teardown":{"approvers":2,"requesterMayApprove":false}}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${expected}; it is not JSON` });
      return z.NEVER;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    const policies = {} as Record<LifecycleOp, ApprovalPolicy>;
    for (const op of LIFECYCLE_OPS) policies[op] = DEFAULT_APPROVAL_POLICY;
    for (const [op, entry] of Object.entries(parsed as Record<string, unknown>)) {
      if (!(LIFECYCLE_OPS as readonly string[]).includes(op)) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown operation "${op.slice(0, 40)}"; expected one of ${LIFECYCLE_OPS.join(', ')}`,
        });
        continue;
      }
      const checked = approvalPolicyEntry.safeParse(entry);
      if (!checked.success) {
        ctx.addIssue({
          code: 'custom',
          message: `${op}: expected { "approvers": 1-5, "requesterMayApprove": true|false }`,
        });
        continue;
      }
      policies[op as LifecycleOp] = {
        approvers: checked.data.approvers ?? DEFAULT_APPROVAL_POLICY.approvers,
        requesterMayApprove: checked.data.requesterMayApprove ?? DEFAULT_APPROVAL_POLICY.requesterMayApprove,
        configured: true,
      };
    }
    return policies;
  });

// --- Upgrade waves (issue 14, item 3): rings, pacing of the wave's waits, its timer. ---

/** How big a ring is: a share of the slugs outside the canary ring, a count, or whatever is left. */
export type RingSize =
  { kind: 'share'; percent: number } | { kind: 'count'; count: number } | { kind: 'rest' };

/** How many failures a ring may have before the wave halts: a count, or a share of the ring's slugs. */
export type FailureBudget = { kind: 'count'; count: number } | { kind: 'share'; percent: number };

/** One ring after the canary ring (UPGRADE_RINGS). */
export interface UpgradeRingPolicy {
  readonly size: RingSize;
  /** The version must be at least this old (npm publish time) before the ring starts. */
  readonly minAgeMs: number;
  /** How long to wait after the previous ring finished before this one starts. */
  readonly bakeMs: number;
  /** Failures beyond it halt the wave. */
  readonly failureBudget: FailureBudget;
}

const RING_EXAMPLE =
  '[{"size":"10%","bake":"1h","failureBudget":1},{"size":"rest","bake":"4h","failureBudget":"5%"}]';

const ringEntry = z
  .object({
    size: z.union([z.string(), z.number()]),
    minAge: z.string().optional(),
    bake: z.string().optional(),
    failureBudget: z.union([z.string(), z.number()]).optional(),
  })
  .strict();

const PERCENT = /^(\d{1,3}(?:\.\d+)?)%$/;

function ringSizeOf(value: string | number): RingSize | undefined {
  if (value === 'rest') return { kind: 'rest' };
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= 1 ? { kind: 'count', count: value } : undefined;
  const percent = PERCENT.exec(value.trim());
  if (!percent) return undefined;
  const share = Number(percent[1]);
  return share > 0 && share <= 100 ? { kind: 'share', percent: share } : undefined;
}

function failureBudgetOf(value: string | number): FailureBudget | undefined {
  if (typeof value === 'number')
    return Number.isInteger(value) && value >= 0 ? { kind: 'count', count: value } : undefined;
  const percent = PERCENT.exec(value.trim());
  if (!percent) return undefined;
  const share = Number(percent[1]);
  return share >= 0 && share <= 100 ? { kind: 'share', percent: share } : undefined;
}

/** A duration that may be zero (`0s`): a ring may start right after the one before. */
function ringDuration(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value);
}

/**
 * UPGRADE_RINGS: the rings after the canary ring, in order, as JSON. Minimum ages default to
 * OPENCLAW_MIN_RELEASE_AGE (filled in by loadConfig), bakes to 1h, budgets to 0. The last ring's
 * size must be "rest", so no slug is left out of a wave.
 */
const upgradeRingsSetting = text(`a JSON array of rings such as ${RING_EXAMPLE}`)
  .default(RING_EXAMPLE)
  .transform((value, ctx) => {
    const expected = `expected a JSON array of rings such as ${RING_EXAMPLE}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${expected}; it is not JSON` });
      return z.NEVER;
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 10) {
      ctx.addIssue({ code: 'custom', message: `${expected} (1-10 rings)` });
      return z.NEVER;
    }
    const rings: { size: RingSize; minAgeMs?: number; bakeMs: number; failureBudget: FailureBudget }[] = [];
    parsed.forEach((entry, index) => {
      const where = `ring ${index + 1}`;
      const checked = ringEntry.safeParse(entry);
      if (!checked.success) {
        ctx.addIssue({
          code: 'custom',
          message: `${where}: expected { "size": "N%" | N | "rest", "minAge"?: "7d", "bake"?: "1h", "failureBudget"?: N | "N%" }`,
        });
        return;
      }
      const size = ringSizeOf(checked.data.size);
      const minAgeMs = ringDuration(checked.data.minAge);
      const bakeMs = ringDuration(checked.data.bake ?? '1h');
      const failureBudget = failureBudgetOf(checked.data.failureBudget ?? 0);
      const last = index === parsed.length - 1;
      if (!size)
        ctx.addIssue({
          code: 'custom',
          message: `${where}: size must be "N%" (0-100], a whole number >= 1, or "rest"`,
        });
      else if (last !== (size.kind === 'rest'))
        ctx.addIssue({
          code: 'custom',
          message: `${where}: only the last ring, and always the last ring, has size "rest"`,
        });
      if (checked.data.minAge !== undefined && minAgeMs === undefined)
        ctx.addIssue({ code: 'custom', message: `${where}: minAge must be a duration such as 7d` });
      if (bakeMs === undefined)
        ctx.addIssue({
          code: 'custom',
          message: `${where}: bake must be a duration such as 1h (0s for none)`,
        });
      if (!failureBudget)
        ctx.addIssue({
          code: 'custom',
          message: `${where}: failureBudget must be a whole number >= 0 or "N%"`,
        });
      if (size && bakeMs !== undefined && failureBudget)
        rings.push({ size, bakeMs, failureBudget, ...(minAgeMs === undefined ? {} : { minAgeMs }) });
    });
    return rings;
  });

// --- end of upgrade waves ---

const settingsSchema = z.object({
  AZURE_SUBSCRIPTION_ID: matching(GUID, "the subscription GUID that holds the slugs' resource groups"),
  AZURE_LOCATION: matching(AZURE_LOCATION, 'an Azure region name such as westeurope'),
  AZURE_TENANT_ID: matching(GUID, 'the Entra tenant GUID'),
  AZURE_CREDENTIAL: z
    .enum(['default', 'managed-identity', 'client-secret'], {
      error: 'expected default, managed-identity or client-secret',
    })
    .default('default'),
  AZURE_CLIENT_ID: matching(GUID, 'a client GUID').optional(),
  AZURE_CLIENT_SECRET: text('a client secret (client-secret credential only)').optional(),
  AZURE_AUTHORITY_HOST: z
    .url({ error: 'expected an https URL' })
    .default('https://login.microsoftonline.com'),
  AZURE_RESOURCE_MANAGER_ENDPOINT: z
    .url({ error: 'expected an https URL' })
    .default('https://management.azure.com'),
  MICROSOFT_GRAPH_ENDPOINT: z.url({ error: 'expected an https URL' }).default('https://graph.microsoft.com'),
  KEY_VAULT_VERIFY_CHALLENGE_RESOURCE: booleanSetting(true),
  AZURE_LRO_POLL_INTERVAL_MS: z.coerce
    .number({ error: 'expected a whole number of milliseconds' })
    .int('expected a whole number of milliseconds')
    .min(10, 'expected at least 10 ms')
    .max(60_000, 'expected at most 60000 ms')
    .default(2_000),
  AZURE_ARM_PACING: booleanSetting(true),
  AZURE_MAX_RETRIES: z.coerce
    .number({ error: 'expected a whole number of retries' })
    .int('expected a whole number of retries')
    .min(0, 'expected 0 or more')
    .max(20, 'expected at most 20')
    .default(8),
  BROKER_NAME: matching(
    /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/,
    'a short lowercase name for this broker deployment (3-32 chars)',
  ).default('claw-broker'),
  BROKER_KEY_VAULT_URI: z.url({
    error: "expected the broker's own Key Vault URI (https://<vault>.vault.azure.net/)",
  }),
  STAGING_KEY_VAULT_URI: z.url({
    error:
      'expected the Key Vault URI where the API stages request secrets (https://<vault>.vault.azure.net/; no purge protection)',
  }),
  NAME_SALT: text('a stable salt for globally unique resource names').default('claw'),
  IMAGE_REGISTRY_ID: matching(
    ARM_RESOURCE_ID,
    'the ARM resource ID of the container registry the gateway pulls from',
  ),
  IMAGE_REPOSITORY: matching(
    /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+$/,
    'an image repository such as myacr.azurecr.io/openclaw/openclaw',
  ),
  ENTRA_ADMIN_GROUP_ID: matching(GUID, 'the object id of the shire-admins group'),
  TELEGRAM_APPROVER_IDS: integerList('a comma-separated list of Telegram user ids'),
  OPERATOR_AUTH: z
    .enum(['easyauth', 'function-key'], {
      error:
        'expected easyauth (App Service authentication fronts the app and sets the caller) or function-key',
    })
    .default('function-key'),
  OPERATOR_APPROVER_IDS: operatorIdList(
    'a comma-separated list of operator ids (Entra object ids; with function-key, the OPERATOR_FUNCTION_KEY_IDENTITY)',
  ),
  OPERATOR_APPROVER_GROUP_IDS: operatorIdList('a comma-separated list of Entra group object ids'),
  // Empty means unset: the function key then names no operator and may not approve.
  OPERATOR_FUNCTION_KEY_IDENTITY: z.preprocess(
    (value) => (value === '' ? undefined : value),
    matching(
      OPERATOR_ID,
      'the operator name the function key stands for (letters, digits, @ . _ -; at most 128)',
    ).optional(),
  ),
  IDENTITY_LINKS: identityLinks,
  TELEGRAM_ADMIN_CHAT_ID: matching(/^-?\d{1,20}$/, 'the Telegram chat id of the admin chat'),
  TELEGRAM_BOT_TOKEN_REF: keyVaultSecretRef("the broker's Telegram bot token"),
  TELEGRAM_WEBHOOK_SECRET_REF: keyVaultSecretRef('the Telegram webhook secret token'),
  TELEGRAM_API_BASE: z.url({ error: 'expected an https URL' }).default('https://api.telegram.org'),
  TELEGRAM_WEBHOOK_HOSTS: z
    .string()
    .trim()
    .default('')
    .transform((value, ctx) => {
      const hosts = value
        .split(',')
        .map((host) => host.trim().toLowerCase())
        .filter((host) => host !== '');
      if (hosts.some((host) => !/^[a-z0-9.-]{1,253}(:\d{1,5})?$/.test(host))) {
        ctx.addIssue({
          code: 'custom',
          message:
            'expected comma-separated host names (a proxy in front of the webhook, e.g. broker.example.com)',
        });
        return z.NEVER;
      }
      return Object.freeze(hosts);
    }),
  APPROVAL_DEADLINE: duration('a duration such as 24h', '24h'),
  APPROVAL_POLICY: approvalPolicySetting,
  TEARDOWN_BACKUP_RETENTION: duration('a duration such as 30d', '30d'),
  TEARDOWN_ALLOW_KEY_VAULT_PURGE: booleanSetting(false),
  OPENCLAW_DEFAULT_VERSION: text('an OpenClaw calendar version such as 2026.9.6').refine(
    isCalendarVersion,
    'expected an OpenClaw calendar version such as 2026.9.6',
  ),
  OPENCLAW_MIN_RELEASE_AGE: duration('a duration such as 7d', '7d'),
  OPENCLAW_GATEWAY_URL_TEMPLATE: text('an https URL template with {fqdn} or {app}')
    .default('https://{fqdn}')
    .refine(
      (value) => /^https:\/\/\S+$/.test(value) && /\{(fqdn|app)\}/.test(value),
      'expected an https URL template with {fqdn} or {app}, such as https://{fqdn}',
    ),
  UPGRADE_READY_TIMEOUT: duration('a duration such as 10m', '10m'),
  UPGRADE_POLL_INTERVAL: duration('a duration such as 15s', '15s'),
  UPGRADE_SOAK: duration('a duration such as 5m', '5m'),
  UPGRADE_STOP_TIMEOUT: duration('a duration such as 5m', '5m'),
  UPGRADE_RESTART_LIMIT: z.coerce
    .number({ error: 'expected a whole number of container restarts' })
    .int('expected a whole number of container restarts')
    .min(0, 'expected 0 or more')
    .max(20, 'expected at most 20')
    .default(2),
  UPGRADE_SNAPSHOTS_KEPT: z.coerce
    .number({ error: 'expected a whole number of share snapshots' })
    .int('expected a whole number of share snapshots')
    .min(1, 'expected at least 1')
    .max(50, 'expected at most 50')
    .default(3),
  UPGRADE_BLOCKED_VERSIONS: z
    .string()
    .trim()
    .default('')
    .transform((value, ctx) => {
      const versions = value
        .split(',')
        .map((version) => version.trim())
        .filter((version) => version !== '');
      const bad = versions.find((version) => !isCalendarVersion(version));
      if (bad !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `expected comma-separated OpenClaw versions such as 2026.9.6; "${bad.slice(0, 40)}" is not one`,
        });
        return z.NEVER;
      }
      return Object.freeze(versions);
    }),
  NPM_REGISTRY_URL: z.url({ error: 'expected the npm registry URL' }).default('https://registry.npmjs.org'),
  // Empty: https://<the host of IMAGE_REPOSITORY>.
  IMAGE_REGISTRY_URL: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z.url({ error: 'expected the container registry URL (https://<registry host>)' }).optional(),
  ),
  PROVISION_RETRY_INTERVAL: duration('a duration such as 30s', '30s'),
  PROVISION_PROPAGATION_TIMEOUT: duration('a duration such as 30m', '30m'),
  PROVISION_READY_POLL_INTERVAL: duration('a duration such as 10s', '10s'),
  PROVISION_READY_TIMEOUT: duration('a duration such as 15m', '15m'),
  ROTATION_GATEWAY_TOKEN_MAX_AGE: duration('a duration such as 30d', '30d'),
  ROTATION_STORAGE_KEY_MAX_AGE: duration('a duration such as 90d', '90d'),
  ROTATION_ENTRA_SECRET_MAX_AGE: duration('a duration such as 180d', '180d'),
  ROTATION_ENTRA_SECRET_GRACE: duration('a duration such as 1d', '1d'),
  ROTATION_BOT_TOKEN_MAX_AGE: duration('a duration such as 180d', '180d'),
  ROTATION_VERIFY_INTERVAL: duration('a duration such as 10s', '10s'),
  ROTATION_VERIFY_TIMEOUT: duration('a duration such as 10m', '10m'),
  ROTATION_SWEEP_SCHEDULE: ncrontab('0 0 3 * * *').default('0 0 3 * * *'),
  SAS_LIFETIME: duration('a duration of at most 7d', '7d', SEVEN_DAYS_MS),
  SAS_SWEEP_SCHEDULE: ncrontab('0 0 * * * *').default('0 0 * * * *'),
  SAS_RETRY_INITIAL: duration('a duration such as 30m', '30m'),
  SAS_RETRY_MAX: duration('a duration such as 12h', '12h'),
  SWEEPS_PAUSED: booleanSetting(false),
  SWEEP_ARM_WRITES_PER_SECOND: z.coerce
    .number({ error: 'expected a number of ARM writes per second' })
    .gt(0, 'expected more than 0')
    .max(10, "expected at most 10 (ARM's refill rate per principal)")
    .default(9.5),
  SWEEP_ARM_WRITE_BURST: z.coerce
    .number({ error: 'expected a whole number of ARM writes' })
    .int('expected a whole number of ARM writes')
    .min(0, 'expected 0 or more')
    .max(200, "expected at most 200 (ARM's write burst per principal)")
    .default(190),
  SWEEP_ENQUEUE_CONCURRENCY: z.coerce
    .number({ error: 'expected a whole number of parallel enqueues' })
    .int('expected a whole number of parallel enqueues')
    .min(1, 'expected at least 1')
    .max(64, 'expected at most 64')
    .default(32),
  // Upgrade waves (issue 14, item 3).
  UPGRADE_RINGS: upgradeRingsSetting,
  UPGRADE_CANARY_COUNT: z.coerce
    .number({ error: 'expected a whole number of slugs' })
    .int('expected a whole number of slugs')
    .min(0, 'expected 0 or more')
    .max(100, 'expected at most 100')
    .default(1),
  UPGRADE_WAVE_POLL_INTERVAL: duration('a duration such as 30s', '30s'),
  UPGRADE_RING_TIMEOUT: duration('a duration such as 12h', '12h'),
  UPGRADE_WAVE_SCHEDULE: ncrontab('0 0 6 * * *').default('0 0 6 * * *'),
  UPGRADE_AUTO_WAVES: booleanSetting(false),
  UPGRADE_WAVE_RETENTION: duration('a duration such as 180d', '180d'),
  DURABLE_TASK_HUB: matching(
    /^[A-Za-z][A-Za-z0-9]{2,49}$/,
    'a task hub name: 3-50 letters and digits, starting with a letter',
  ).default('clawbroker'),
  INTAKE_MAX_MESSAGE_BYTES: z.coerce
    .number({ error: 'expected a whole number of bytes' })
    .int('expected a whole number of bytes')
    .min(1_024, 'expected at least 1024 bytes')
    .max(65_536, 'expected at most 65536 bytes (the Azure Storage queue message limit)')
    .default(49_152),
  AzureWebJobsStorage: text('a storage connection string (Azurite locally)').optional(),
  AzureWebJobsStorage__accountName: matching(/^[a-z0-9]{3,24}$/, 'a storage account name').optional(),
  AzureWebJobsStorage__clientId: matching(GUID, 'the client id of the managed identity').optional(),
});

type Settings = z.infer<typeof settingsSchema>;

export type StorageConnection =
  | { kind: 'connection-string'; connectionString: string }
  | {
      kind: 'identity';
      accountName: string;
      clientId: string | undefined;
      blobServiceUri: string;
      queueServiceUri: string;
      tableServiceUri: string;
    };

export type AzureCredentialSettings =
  | { kind: 'default'; clientId: string | undefined }
  | { kind: 'managed-identity'; clientId: string | undefined }
  | { kind: 'client-secret'; clientId: string; clientSecret: string };

export interface BrokerConfig {
  readonly brokerName: string;
  readonly azure: {
    readonly subscriptionId: string;
    readonly location: string;
    readonly tenantId: string;
    readonly credential: AzureCredentialSettings;
    readonly authorityHost: string;
    readonly resourceManagerEndpoint: string;
    readonly graphEndpoint: string;
    readonly keyVaultVerifyChallengeResource: boolean;
    /** Poll interval of long-running operations that send no Retry-After. */
    readonly lroPollIntervalMs: number;
    /** Retries of the SDK pipelines (throttling with Retry-After, 5xx, dropped connections). */
    readonly maxRetries: number;
    /** Pace ARM requests to ARM's per-principal limits, first come, first served. */
    readonly armPacing: boolean;
  };
  readonly brokerKeyVaultUri: string;
  /**
   * The vault the API stages request secrets in, until provisioning moves them to the slug's vault
   * and purges them. Not the broker vault: that one has purge protection (a staged copy would stay
   * recoverable for its retention), this one has none and the shortest soft-delete retention.
   */
  readonly stagingKeyVaultUri: string;
  readonly nameSalt: string;
  readonly image: { readonly registryId: string; readonly repository: string };
  readonly entra: { readonly adminGroupId: string };
  readonly telegram: {
    readonly approverIds: readonly string[];
    readonly adminChatId: string;
    readonly botTokenRef: string;
    readonly webhookSecretRef: string;
    readonly apiBase: string;
    /**
     * Hosts besides the app's own that `POST /api/telegram/setup` may point the webhook at (a
     * proxy in front of it): the secret token goes to whatever URL is registered.
     */
    readonly webhookHosts: readonly string[];
  };
  /**
   * Who the operators calling the HTTP API are. With `easyauth`, App Service authentication (Entra
   * ID) fronts the app and the broker reads the caller it sets; otherwise every function-key caller
   * is `functionKeyIdentity` (or the anonymous `function-key`) and identity headers are ignored.
   */
  readonly operators: {
    readonly auth: 'easyauth' | 'function-key';
    /** Operator ids allowed to approve or reject through the API (object ids under Easy Auth). */
    readonly approverIds: readonly string[];
    /** Entra groups whose members may approve (from the principal's `groups` claim). */
    readonly approverGroupIds: readonly string[];
    readonly functionKeyIdentity: string | undefined;
    /** Telegram user id -> operator id of the same person: they count once, across channels. */
    readonly identityLinks: Readonly<Record<string, string>>;
  };
  readonly approvals: {
    /** How long an approval waits for its decision; none by then means rejected (expired). */
    readonly deadlineMs: number;
    /** Per operation: approvers needed and whether the requester may approve. */
    readonly policies: Readonly<Record<LifecycleOp, ApprovalPolicy>>;
  };
  readonly teardown: {
    /** How long the final backup of a torn-down slug's state share is kept. */
    readonly backupRetentionMs: number;
    /** Whether a teardown that asks for it may purge the soft-deleted Key Vault (default: keep it). */
    readonly allowKeyVaultPurge: boolean;
  };
  readonly openclaw: {
    readonly defaultVersion: string;
    readonly minReleaseAgeMs: number;
    /** Where the broker reaches a gateway's probes: `{fqdn}` and `{app}` are substituted. */
    readonly gatewayUrlTemplate: string;
  };
  readonly upgrades: {
    /** How long a new revision may take to report started and ready before it is rolled back. */
    readonly readyTimeoutMs: number;
    readonly pollIntervalMs: number;
    /** How long a ready revision must stay ready, its restarts not climbing, before the upgrade commits. */
    readonly soakMs: number;
    /** How long a deactivated revision may take to have no replica. */
    readonly stopTimeoutMs: number;
    /** Container restarts of the new revision, beyond which it counts as crash-looping. */
    readonly restartLimit: number;
    /** Share snapshots of upgrades kept per slug (older ones are deleted at commit). */
    readonly snapshotsKept: number;
    readonly blockedVersions: readonly string[];
    /** Where publish times are read (`time[version]` of the full packument). */
    readonly npmRegistryUrl: string;
    /** The OCI distribution API of IMAGE_REPOSITORY's registry, where digests are resolved. */
    readonly imageRegistryUrl: string;
  };
  readonly provisioning: {
    /** Wait between attempts of a step that Azure answered "not yet" (propagation). */
    readonly retryIntervalMs: number;
    /** How long a step may keep answering "not yet" before provisioning fails. */
    readonly propagationTimeoutMs: number;
    readonly readyPollIntervalMs: number;
    /** How long the gateway may take to answer /readyz after its app is deployed. */
    readonly readyTimeoutMs: number;
  };
  readonly rotation: {
    readonly gatewayTokenMaxAgeMs: number;
    readonly storageKeyMaxAgeMs: number;
    readonly entraSecretMaxAgeMs: number;
    readonly entraSecretGraceMs: number;
    readonly sweepSchedule: string;
    /** Bot tokens cannot be rotated by API: past this age they are flagged and the admin chat told. */
    readonly botTokenMaxAgeMs: number;
    /** How often a rotation looks again whether the app took the new credential, and for how long. */
    readonly verifyIntervalMs: number;
    readonly verifyTimeoutMs: number;
  };
  readonly sas: {
    readonly lifetimeMs: number;
    readonly sweepSchedule: string;
    /** Back-off of failed renewals: first wait, doubled after each failure up to the maximum. */
    readonly retryInitialMs: number;
    readonly retryMaxMs: number;
  };
  readonly sweepsPaused: boolean;
  /** Fleet waves (issue 14, item 3): rings, waits and the timer that starts them. */
  readonly waves: {
    /** Slugs in the canary ring when none is marked canary (`upgrades.canary`); 0: no canary ring then. */
    readonly canaryCount: number;
    /** The canary ring's minimum release age (OPENCLAW_MIN_RELEASE_AGE). */
    readonly canaryMinAgeMs: number;
    readonly rings: readonly UpgradeRingPolicy[];
    /** How often a wave looks at the slugs of a running ring. */
    readonly pollIntervalMs: number;
    /** How long a ring may run; slugs not ended by then count as failed. */
    readonly ringTimeoutMs: number;
    readonly schedule: string;
    /** Whether the timer starts waves by itself (off by default: an operator starts them). */
    readonly auto: boolean;
    /** How long an ended wave's record is kept. */
    readonly retentionMs: number;
  };
  /**
   * How sweeps spread the work they enqueue under ARM's write throttle (per principal: 200 burst,
   * 10/s): requests become visible at a pace that keeps the fleet's ARM writes at or below this.
   */
  readonly sweeps: {
    readonly armWritesPerSecond: number;
    readonly armWriteBurst: number;
    /** Queue messages sent at once while enqueueing. */
    readonly enqueueConcurrency: number;
  };
  readonly durableTaskHub: string;
  readonly intake: { readonly maxMessageBytes: number };
  readonly storage: StorageConnection;
}

/**
 * Validates app settings into a frozen BrokerConfig. Throws a BrokerError (ConfigInvalid) listing
 * every bad setting, one per line, each named. Never echoes setting values: some are secrets.
 */
export function loadConfig(env: Record<string, string | undefined>): BrokerConfig {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  - ${String(issue.path[0] ?? '(settings)')}: ${issue.message}`,
    );
    throw new BrokerError(
      ErrorCodes.ConfigInvalid,
      `Invalid claw-broker configuration:\n${problems.join('\n')}`,
      {
        details: parsed.error.issues.map((issue) => ({ setting: issue.path[0], problem: issue.message })),
      },
    );
  }
  const settings = parsed.data;
  return deepFreeze({
    brokerName: settings.BROKER_NAME,
    azure: {
      subscriptionId: settings.AZURE_SUBSCRIPTION_ID.toLowerCase(),
      location: settings.AZURE_LOCATION,
      tenantId: settings.AZURE_TENANT_ID.toLowerCase(),
      credential: credentialSettings(settings),
      authorityHost: settings.AZURE_AUTHORITY_HOST,
      resourceManagerEndpoint: settings.AZURE_RESOURCE_MANAGER_ENDPOINT,
      graphEndpoint: settings.MICROSOFT_GRAPH_ENDPOINT,
      keyVaultVerifyChallengeResource: settings.KEY_VAULT_VERIFY_CHALLENGE_RESOURCE,
      lroPollIntervalMs: settings.AZURE_LRO_POLL_INTERVAL_MS,
      maxRetries: settings.AZURE_MAX_RETRIES,
      armPacing: settings.AZURE_ARM_PACING,
    },
    brokerKeyVaultUri: settings.BROKER_KEY_VAULT_URI,
    stagingKeyVaultUri: settings.STAGING_KEY_VAULT_URI,
    nameSalt: settings.NAME_SALT,
    image: { registryId: settings.IMAGE_REGISTRY_ID, repository: settings.IMAGE_REPOSITORY },
    entra: { adminGroupId: settings.ENTRA_ADMIN_GROUP_ID.toLowerCase() },
    telegram: {
      approverIds: settings.TELEGRAM_APPROVER_IDS,
      adminChatId: settings.TELEGRAM_ADMIN_CHAT_ID,
      botTokenRef: settings.TELEGRAM_BOT_TOKEN_REF,
      webhookSecretRef: settings.TELEGRAM_WEBHOOK_SECRET_REF,
      apiBase: settings.TELEGRAM_API_BASE,
      webhookHosts: settings.TELEGRAM_WEBHOOK_HOSTS,
    },
    operators: {
      auth: settings.OPERATOR_AUTH,
      approverIds: settings.OPERATOR_APPROVER_IDS,
      approverGroupIds: settings.OPERATOR_APPROVER_GROUP_IDS,
      functionKeyIdentity: settings.OPERATOR_FUNCTION_KEY_IDENTITY,
      identityLinks: settings.IDENTITY_LINKS,
    },
    approvals: { deadlineMs: settings.APPROVAL_DEADLINE, policies: settings.APPROVAL_POLICY },
    teardown: {
      backupRetentionMs: settings.TEARDOWN_BACKUP_RETENTION,
      allowKeyVaultPurge: settings.TEARDOWN_ALLOW_KEY_VAULT_PURGE,
    },
    openclaw: {
      defaultVersion: settings.OPENCLAW_DEFAULT_VERSION,
      minReleaseAgeMs: settings.OPENCLAW_MIN_RELEASE_AGE,
      gatewayUrlTemplate: settings.OPENCLAW_GATEWAY_URL_TEMPLATE,
    },
    upgrades: {
      readyTimeoutMs: settings.UPGRADE_READY_TIMEOUT,
      pollIntervalMs: settings.UPGRADE_POLL_INTERVAL,
      soakMs: settings.UPGRADE_SOAK,
      stopTimeoutMs: settings.UPGRADE_STOP_TIMEOUT,
      restartLimit: settings.UPGRADE_RESTART_LIMIT,
      snapshotsKept: settings.UPGRADE_SNAPSHOTS_KEPT,
      blockedVersions: settings.UPGRADE_BLOCKED_VERSIONS,
      npmRegistryUrl: settings.NPM_REGISTRY_URL.replace(/\/+$/, ''),
      imageRegistryUrl:
        settings.IMAGE_REGISTRY_URL?.replace(/\/+$/, '') ??
        `https://${settings.IMAGE_REPOSITORY.split('/')[0]!}`,
    },
    provisioning: {
      retryIntervalMs: settings.PROVISION_RETRY_INTERVAL,
      propagationTimeoutMs: settings.PROVISION_PROPAGATION_TIMEOUT,
      readyPollIntervalMs: settings.PROVISION_READY_POLL_INTERVAL,
      readyTimeoutMs: settings.PROVISION_READY_TIMEOUT,
    },
    rotation: {
      gatewayTokenMaxAgeMs: settings.ROTATION_GATEWAY_TOKEN_MAX_AGE,
      storageKeyMaxAgeMs: settings.ROTATION_STORAGE_KEY_MAX_AGE,
      entraSecretMaxAgeMs: settings.ROTATION_ENTRA_SECRET_MAX_AGE,
      entraSecretGraceMs: settings.ROTATION_ENTRA_SECRET_GRACE,
      sweepSchedule: settings.ROTATION_SWEEP_SCHEDULE,
      botTokenMaxAgeMs: settings.ROTATION_BOT_TOKEN_MAX_AGE,
      verifyIntervalMs: settings.ROTATION_VERIFY_INTERVAL,
      verifyTimeoutMs: settings.ROTATION_VERIFY_TIMEOUT,
    },
    sas: {
      lifetimeMs: settings.SAS_LIFETIME,
      sweepSchedule: settings.SAS_SWEEP_SCHEDULE,
      retryInitialMs: settings.SAS_RETRY_INITIAL,
      retryMaxMs: settings.SAS_RETRY_MAX,
    },
    sweepsPaused: settings.SWEEPS_PAUSED,
    waves: {
      canaryCount: settings.UPGRADE_CANARY_COUNT,
      canaryMinAgeMs: settings.OPENCLAW_MIN_RELEASE_AGE,
      rings: settings.UPGRADE_RINGS.map((ring) => ({
        ...ring,
        minAgeMs: ring.minAgeMs ?? settings.OPENCLAW_MIN_RELEASE_AGE,
      })),
      pollIntervalMs: settings.UPGRADE_WAVE_POLL_INTERVAL,
      ringTimeoutMs: settings.UPGRADE_RING_TIMEOUT,
      schedule: settings.UPGRADE_WAVE_SCHEDULE,
      auto: settings.UPGRADE_AUTO_WAVES,
      retentionMs: settings.UPGRADE_WAVE_RETENTION,
    },
    sweeps: {
      armWritesPerSecond: settings.SWEEP_ARM_WRITES_PER_SECOND,
      armWriteBurst: settings.SWEEP_ARM_WRITE_BURST,
      enqueueConcurrency: settings.SWEEP_ENQUEUE_CONCURRENCY,
    },
    durableTaskHub: settings.DURABLE_TASK_HUB,
    intake: { maxMessageBytes: settings.INTAKE_MAX_MESSAGE_BYTES },
    storage: storageConnection(settings),
  });
}

function credentialSettings(settings: Settings): AzureCredentialSettings {
  if (settings.AZURE_CREDENTIAL === 'client-secret') {
    if (!settings.AZURE_CLIENT_ID || !settings.AZURE_CLIENT_SECRET) {
      throw configProblem(
        'AZURE_CLIENT_ID / AZURE_CLIENT_SECRET',
        'both required when AZURE_CREDENTIAL is client-secret',
      );
    }
    return {
      kind: 'client-secret',
      clientId: settings.AZURE_CLIENT_ID,
      clientSecret: settings.AZURE_CLIENT_SECRET,
    };
  }
  return { kind: settings.AZURE_CREDENTIAL, clientId: settings.AZURE_CLIENT_ID };
}

function storageConnection(settings: Settings): StorageConnection {
  if (settings.AzureWebJobsStorage) {
    return { kind: 'connection-string', connectionString: settings.AzureWebJobsStorage };
  }
  const accountName = settings.AzureWebJobsStorage__accountName;
  if (!accountName) {
    throw configProblem(
      'AzureWebJobsStorage',
      'missing; expected a connection string (Azurite locally) or AzureWebJobsStorage__accountName for an identity-based connection',
    );
  }
  return {
    kind: 'identity',
    accountName,
    clientId: settings.AzureWebJobsStorage__clientId,
    blobServiceUri: `https://${accountName}.blob.core.windows.net`,
    queueServiceUri: `https://${accountName}.queue.core.windows.net`,
    tableServiceUri: `https://${accountName}.table.core.windows.net`,
  };
}

function configProblem(setting: string, problem: string): BrokerError {
  return new BrokerError(
    ErrorCodes.ConfigInvalid,
    `Invalid claw-broker configuration:\n  - ${setting}: ${problem}`,
    {
      details: [{ setting, problem }],
    },
  );
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

let cached: BrokerConfig | undefined;

/** The process's configuration, validated on first use and frozen. */
export function getConfig(): BrokerConfig {
  cached ??= loadConfig(process.env);
  return cached;
}
