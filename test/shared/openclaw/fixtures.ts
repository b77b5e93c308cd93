import fc from 'fast-check';
import { footprintNames } from '../../../shared/domain/footprint.js';
import {
  channelsFor,
  OPENCLAW_CHANNELS,
  type OpenClawChannel,
} from '../../../shared/openclaw/renderConfig.js';
import { SUPPORTED_OPENCLAW_VERSIONS } from '../../../shared/openclaw/versions.js';

export const FQDN = 'ca-acme.happy-river-1234.westeurope.azurecontainerapps.io';
export const SUBSCRIPTION = '/subscriptions/00000000-0000-0000-0000-000000000001';
export const IDENTITY_ID = `${SUBSCRIPTION}/resourceGroups/claw-acme/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-acme`;
export const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
export const ENVIRONMENT_ID = `${SUBSCRIPTION}/resourceGroups/claw-acme/providers/Microsoft.App/managedEnvironments/cae-acme`;
export const VAULT = 'https://kv-acme-abcde1.vault.azure.net';

export const KEY_VAULT_SECRETS = {
  gatewayToken: `${VAULT}/secrets/gateway-token`,
  telegramBotToken: `${VAULT}/secrets/telegram-bot-token`,
  telegramWebhookSecret: `${VAULT}/secrets/telegram-webhook-secret`,
  teamsAppPassword: `${VAULT}/secrets/msteams-app-password`,
  foundryApiKey: `${VAULT}/secrets/foundry-api-key`,
};

/** Values a test vault holds; a test proves none of them reaches a rendered artefact. */
export const SECRET_VALUES: Record<keyof typeof KEY_VAULT_SECRETS, string> = {
  gatewayToken: 'a'.repeat(32) + '0123456789abcdef'.repeat(2),
  telegramBotToken: '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw',
  telegramWebhookSecret: 'tg-webhook-secret-Zx81kq0Pp',
  teamsAppPassword: 'teams~password~9Qm2',
  foundryApiKey: 'f0undry-key-77c1d0e2f4',
};

export const FOUNDRY = { endpoint: 'https://acme-ai.openai.azure.com/', deployment: 'gpt-4o-mini' };

export const names = footprintNames('acme', { salt: 'test', incarnation: 1 });

export const version = fc.constantFrom(...SUPPORTED_OPENCLAW_VERSIONS);
export const channels = fc.subarray<OpenClawChannel>([...OPENCLAW_CHANNELS]);
/** A version and channels it can render (Teams only where a Teams plugin starts with it). */
export const versionAndChannels = version.chain((v) =>
  fc.tuple(fc.constant(v), fc.subarray<OpenClawChannel>([...channelsFor(v)])),
);
export const foundry = fc.option(fc.constant(FOUNDRY), { nil: undefined });
