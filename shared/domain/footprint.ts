import { createHash } from 'node:crypto';
import { parseSlug, type Slug } from './slug.js';

/**
 * The footprint's vocabulary: the names and tags every operation agrees on (the derived resource
 * names are below). Values never leave activities; these are only names.
 */

/** Secret names in the slug's vault. */
export const SLUG_SECRET_NAMES = {
  gatewayToken: 'gateway-token',
  storageKey: 'storage-account-key',
  telegramBotToken: 'telegram-bot-token',
  telegramWebhookSecret: 'telegram-webhook-secret',
  foundryApiKey: 'foundry-api-key',
  entraClientSecret: 'entra-client-secret',
} as const;

/** Secret names in the slug's vault that maintenance adds to provisioning's (SLUG_SECRET_NAMES). */
export const MAINTENANCE_SECRET_NAMES = {
  logShippingSas: 'log-shipping-sas',
} as const;

/** Container Apps secret names that maintenance adds to the app. */
export const MAINTENANCE_APP_SECRETS = {
  logShippingSas: 'log-shipping-sas',
} as const;

/** Secret name the Container Apps built-in auth reads the Entra client secret from. */
export const AUTH_SECRET_NAME = 'microsoft-provider-authentication-secret';

/** Tags on every resource the broker owns; teardown and sweeps only touch what carries them. */
export const OWNERSHIP_TAGS = Object.freeze({ managedBy: 'managed-by', slug: 'claw-broker-slug' });
export const OWNERSHIP_TAG_VALUE = 'claw-broker';

export const MAX_INCARNATION = 1295; // two base-36 digits

/** Every Azure and Entra name in one slug's footprint. */
export interface FootprintNames {
  readonly slug: Slug;
  readonly incarnation: number;
  readonly resourceGroup: string;
  readonly managedIdentity: string;
  readonly keyVault: string;
  readonly storageAccount: string;
  readonly stateFileShare: string;
  readonly logContainer: string;
  readonly logAnalyticsWorkspace: string;
  readonly applicationInsights: string;
  readonly managedEnvironment: string;
  readonly environmentStorage: string;
  readonly containerApp: string;
  readonly entraApplication: string;
  readonly entraGroup: string;
}

export interface NameOptions {
  /** A per-deployment salt, so two brokers (dev, prod) never race for the same global names. */
  salt: string;
  /** 1 for the first provisioning of a slug; incremented after each teardown. */
  incarnation: number;
}

/**
 * Derives the footprint's names. Names scoped to the resource group are plain (`ca-<slug>`).
 * Globally unique or soft-delete-reserved names (Key Vault, storage account, Log Analytics) carry a
 * short deterministic hash of (salt, slug, incarnation) and the incarnation itself, so a slug
 * provisioned again after teardown gets fresh names while the old ones are still reserved.
 */
export function footprintNames(slugText: string, options: NameOptions): FootprintNames {
  const slug = parseSlug(slugText);
  const { incarnation } = options;
  if (!Number.isInteger(incarnation) || incarnation < 1 || incarnation > MAX_INCARNATION) {
    throw new RangeError(`incarnation must be an integer from 1 to ${MAX_INCARNATION}, got ${incarnation}`);
  }
  const unique = uniqueSuffix(options.salt, slug, incarnation); // 5 hash chars + 1-2 incarnation chars
  const compact = slug.replace(/-/g, '');
  return Object.freeze({
    slug,
    incarnation,
    resourceGroup: `claw-${slug}`,
    managedIdentity: `id-${slug}`,
    keyVault: `kv-${trimHyphens(slug.slice(0, 10))}-${unique}`,
    storageAccount: `st${compact.slice(0, 13)}${unique}`,
    stateFileShare: 'openclaw-state',
    logContainer: 'openclaw-logs',
    logAnalyticsWorkspace: `log-${slug}-${unique}`,
    applicationInsights: `appi-${slug}`,
    managedEnvironment: `cae-${slug}`,
    environmentStorage: 'openclawstate',
    containerApp: `ca-${slug}`,
    entraApplication: `claw-${slug}`,
    entraGroup: `shire-${slug}`,
  });
}

function uniqueSuffix(salt: string, slug: string, incarnation: number): string {
  const digest = createHash('sha256').update(`${salt}\n${slug}\n${incarnation}`).digest();
  const hash = (digest.readUInt32BE(0) % 36 ** 5).toString(36).padStart(5, '0');
  return `${hash}${incarnation.toString(36)}`;
}

function trimHyphens(value: string): string {
  return value.replace(/-+$/, '');
}

/** Azure's naming rules for each resource type the footprint uses, for validation and tests. */
export const AZURE_NAME_RULES: Record<
  Exclude<keyof FootprintNames, 'slug' | 'incarnation'>,
  { pattern: RegExp; min: number; max: number; rule: string }
> = {
  resourceGroup: {
    pattern: /^[-\w.()]*[-\w()]$/,
    min: 1,
    max: 90,
    rule: 'letters, digits, _ - . ( ); not ending in .',
  },
  managedIdentity: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/,
    min: 3,
    max: 128,
    rule: 'alphanumerics, hyphens, underscores; starts alphanumeric',
  },
  keyVault: {
    pattern: /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]*[a-zA-Z0-9]$/,
    min: 3,
    max: 24,
    rule: 'alphanumerics and single hyphens; starts with a letter; ends alphanumeric; globally unique',
  },
  storageAccount: {
    pattern: /^[a-z0-9]+$/,
    min: 3,
    max: 24,
    rule: 'lowercase letters and digits; globally unique',
  },
  stateFileShare: {
    pattern: /^[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/,
    min: 3,
    max: 63,
    rule: 'lowercase alphanumerics and single hyphens',
  },
  logContainer: {
    pattern: /^[a-z0-9](?!.*--)[a-z0-9-]*[a-z0-9]$/,
    min: 3,
    max: 63,
    rule: 'lowercase alphanumerics and single hyphens',
  },
  logAnalyticsWorkspace: {
    pattern: /^[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]$/,
    min: 4,
    max: 63,
    rule: 'alphanumerics and hyphens; starts and ends alphanumeric',
  },
  applicationInsights: {
    pattern: /^[^%&\\?/]*[^%&\\?/. ]$/,
    min: 1,
    max: 260,
    rule: 'no % & \\ ? /; not ending in . or space',
  },
  managedEnvironment: {
    pattern: /^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$/,
    min: 2,
    max: 60,
    rule: 'lowercase alphanumerics and single hyphens; starts with a letter',
  },
  environmentStorage: { pattern: /^[a-z0-9]+$/, min: 2, max: 32, rule: 'lowercase alphanumerics' },
  containerApp: {
    pattern: /^[a-z](?!.*--)[a-z0-9-]*[a-z0-9]$/,
    min: 2,
    max: 32,
    rule: 'lowercase alphanumerics and single hyphens; starts with a letter; ends alphanumeric',
  },
  entraApplication: { pattern: /^[\x20-\x7e]+$/, min: 1, max: 120, rule: 'printable display name' },
  entraGroup: {
    pattern: /^[A-Za-z0-9._-]+$/,
    min: 1,
    max: 64,
    rule: 'a mailNickname: ASCII letters, digits, . _ -',
  },
};
