/**
 * A complete, valid set of app settings for tests. Values are obviously fake; the Telegram
 * settings are Key Vault references, as production requires.
 */
export function testSettings(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000001',
    AZURE_LOCATION: 'westeurope',
    AZURE_TENANT_ID: '00000000-0000-4000-8000-0000000000aa',
    BROKER_KEY_VAULT_URI: 'https://kv-claw-broker.vault.azure.net/',
    STAGING_KEY_VAULT_URI: 'https://kv-claw-staging.vault.azure.net/',
    IMAGE_REGISTRY_ID:
      '/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/claw-shared/providers/Microsoft.ContainerRegistry/registries/clawacr',
    IMAGE_REPOSITORY: 'clawacr.azurecr.io/openclaw/openclaw',
    ENTRA_ADMIN_GROUP_ID: '00000000-0000-4000-8000-0000000000ad',
    TELEGRAM_APPROVER_IDS: '1001,1002',
    TELEGRAM_ADMIN_CHAT_ID: '-100200300',
    TELEGRAM_BOT_TOKEN_REF: 'https://kv-claw-broker.vault.azure.net/secrets/telegram-bot-token',
    TELEGRAM_WEBHOOK_SECRET_REF: 'https://kv-claw-broker.vault.azure.net/secrets/telegram-webhook-secret',
    OPENCLAW_DEFAULT_VERSION: '2026.9.6',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    DURABLE_TASK_HUB: 'clawbrokertest',
    // The sweeps' timer bindings read these (%SETTING%), so the host needs them set.
    ROTATION_SWEEP_SCHEDULE: '0 0 3 * * *',
    SAS_SWEEP_SCHEDULE: '0 0 * * * *',
    // The upgrade timer's binding reads it too (it starts waves only with UPGRADE_AUTO_WAVES=true).
    UPGRADE_WAVE_SCHEDULE: '0 0 6 * * *',
    ...overrides,
  };
}
