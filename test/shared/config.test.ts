import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { isBrokerError } from '../../shared/errors.js';
import { testSettings } from '../support/settings.js';

function configError(settings: Record<string, string | undefined>): string {
  try {
    loadConfig(settings);
  } catch (error) {
    if (isBrokerError(error)) {
      expect(error.code).toBe('ConfigInvalid');
      return error.message;
    }
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('loads a complete set of settings, applies policy defaults, and freezes the result', () => {
    const config = loadConfig(testSettings());
    expect(config.azure.subscriptionId).toBe('00000000-0000-4000-8000-000000000001');
    expect(config.rotation.gatewayTokenMaxAgeMs).toBe(30 * 86_400_000);
    expect(config.sas.lifetimeMs).toBe(7 * 86_400_000);
    expect(config.telegram.approverIds).toEqual(['1001', '1002']);
    expect(config.storage).toEqual({
      kind: 'connection-string',
      connectionString: 'UseDevelopmentStorage=true',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.telegram.approverIds)).toBe(true);
    expect(() => {
      (config.azure as { location: string }).location = 'eastus';
    }).toThrow();
  });

  it('names a missing setting and what it expects', () => {
    expect(configError(testSettings({ AZURE_SUBSCRIPTION_ID: undefined }))).toContain(
      "AZURE_SUBSCRIPTION_ID: missing; expected the subscription GUID that holds the slugs' resource groups",
    );
  });

  it('lists every bad setting at once', () => {
    const message = configError(
      testSettings({ AZURE_LOCATION: 'West Europe', TELEGRAM_APPROVER_IDS: 'alice,bob', SAS_LIFETIME: '9d' }),
    );
    expect(message).toContain('AZURE_LOCATION: expected an Azure region name');
    expect(message).toContain('TELEGRAM_APPROVER_IDS: expected a comma-separated list of Telegram user ids');
    expect(message).toContain('SAS_LIFETIME: "9d" is longer than the allowed maximum (7d)');
  });

  it('refuses a Telegram bot token given as a value instead of a Key Vault reference, without echoing it', () => {
    const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1';
    const message = configError(testSettings({ TELEGRAM_BOT_TOKEN_REF: token }));
    expect(message).toContain('TELEGRAM_BOT_TOKEN_REF: expected a Key Vault secret URI');
    expect(message).not.toContain(token);
  });

  it('refuses malformed durations, schedules and versions with the expected form', () => {
    const message = configError(
      testSettings({
        ROTATION_GATEWAY_TOKEN_MAX_AGE: 'a month',
        ROTATION_SWEEP_SCHEDULE: '0 3 * * *',
        OPENCLAW_DEFAULT_VERSION: 'latest',
      }),
    );
    expect(message).toContain(
      'ROTATION_GATEWAY_TOKEN_MAX_AGE: expected a duration such as 30d, got "a month"',
    );
    expect(message).toContain('ROTATION_SWEEP_SCHEDULE: expected a six-field NCRONTAB schedule');
    expect(message).toContain('OPENCLAW_DEFAULT_VERSION: expected an OpenClaw calendar version');
  });

  it('refuses a six-field schedule whose fields are out of range, naming the setting', () => {
    for (const schedule of ['0 0 99 * * *', '0 61 * * * *', '0 0 0 32 * *', 'a b c d e f']) {
      const message = configError(testSettings({ SAS_SWEEP_SCHEDULE: schedule }));
      expect(message).toContain('SAS_SWEEP_SCHEDULE: not a valid schedule');
    }
    expect(() => loadConfig(testSettings({ SAS_SWEEP_SCHEDULE: '0 */15 * * * *' }))).not.toThrow();
  });

  it('defaults the provisioning policy to Azure-scale waits and the gateway URL to its public host name', () => {
    const config = loadConfig(testSettings());
    expect(config.provisioning).toEqual({
      retryIntervalMs: 30_000,
      propagationTimeoutMs: 30 * 60_000,
      readyPollIntervalMs: 10_000,
      readyTimeoutMs: 15 * 60_000,
    });
    expect(config.openclaw.gatewayUrlTemplate).toBe('https://{fqdn}');
    expect(config.azure.lroPollIntervalMs).toBe(2_000);
    expect(config.azure.maxRetries).toBe(8);
    expect(config.azure.armPacing).toBe(true);
  });

  it('refuses a gateway URL template without a place for the app and out-of-range SDK settings', () => {
    const message = configError(
      testSettings({
        OPENCLAW_GATEWAY_URL_TEMPLATE: 'https://gateway.example.com',
        AZURE_LRO_POLL_INTERVAL_MS: '5',
        AZURE_MAX_RETRIES: 'many',
        PROVISION_READY_TIMEOUT: 'soon',
      }),
    );
    expect(message).toContain(
      'OPENCLAW_GATEWAY_URL_TEMPLATE: expected an https URL template with {fqdn} or {app}',
    );
    expect(message).toContain('AZURE_LRO_POLL_INTERVAL_MS: expected at least 10 ms');
    expect(message).toContain('AZURE_MAX_RETRIES: expected a whole number of retries');
    expect(message).toContain('PROVISION_READY_TIMEOUT: expected a duration such as 15m, got "soon"');
  });

  it('defaults approvals to a 24h deadline and one approver who is not the requester, for every operation', () => {
    const config = loadConfig(testSettings());
    expect(config.approvals.deadlineMs).toBe(24 * 3_600_000);
    expect(config.approvals.policies.teardown).toEqual({ approvers: 1, requesterMayApprove: false });
    expect(config.approvals.policies.upgrade).toEqual({ approvers: 1, requesterMayApprove: false });
  });

  it('takes per-operation approval policies, filling what an entry leaves out from the defaults', () => {
    const config = loadConfig(
      testSettings({
        APPROVAL_DEADLINE: '2h',
        APPROVAL_POLICY: '{"teardown":{"approvers":2},"upgrade":{"requesterMayApprove":true}}',
      }),
    );
    expect(config.approvals.deadlineMs).toBe(2 * 3_600_000);
    expect(config.approvals.policies.teardown).toEqual({
      approvers: 2,
      requesterMayApprove: false,
      configured: true,
    });
    expect(config.approvals.policies.upgrade).toEqual({
      approvers: 1,
      requesterMayApprove: true,
      configured: true,
    });
    expect(config.approvals.policies.provision).toEqual({ approvers: 1, requesterMayApprove: false });
  });

  it('refuses an approval policy that is not JSON, names an unknown operation or asks for no approvers', () => {
    expect(configError(testSettings({ APPROVAL_POLICY: 'teardown=2' }))).toContain(
      'APPROVAL_POLICY: expected a JSON object of per-operation approval policies',
    );
    const message = configError(
      testSettings({
        APPROVAL_POLICY: '{"destroy":{"approvers":1},"teardown":{"approvers":0}}',
        APPROVAL_DEADLINE: 'tomorrow',
      }),
    );
    expect(message).toContain('APPROVAL_POLICY: unknown operation "destroy"');
    expect(message).toContain('APPROVAL_POLICY: teardown: expected { "approvers": 1-5');
    expect(message).toContain('APPROVAL_DEADLINE: expected a duration such as 24h, got "tomorrow"');
  });

  it('keeps teardown backups 30 days and soft-deleted Key Vaults by default, and takes both from settings', () => {
    expect(loadConfig(testSettings()).teardown).toEqual({
      backupRetentionMs: 30 * 86_400_000,
      allowKeyVaultPurge: false,
    });
    expect(
      loadConfig(testSettings({ TEARDOWN_BACKUP_RETENTION: '90d', TEARDOWN_ALLOW_KEY_VAULT_PURGE: 'true' }))
        .teardown,
    ).toEqual({ backupRetentionMs: 90 * 86_400_000, allowKeyVaultPurge: true });
    expect(configError(testSettings({ TEARDOWN_ALLOW_KEY_VAULT_PURGE: 'sometimes' }))).toContain(
      'TEARDOWN_ALLOW_KEY_VAULT_PURGE: expected true or false',
    );
  });

  it('defaults the maintenance policy: verification waits, bot token age, SAS back-off and the sweeps’ write budget', () => {
    const config = loadConfig(testSettings());
    expect(config.rotation).toMatchObject({
      botTokenMaxAgeMs: 180 * 86_400_000,
      verifyIntervalMs: 10_000,
      verifyTimeoutMs: 10 * 60_000,
    });
    expect(config.sas).toMatchObject({ retryInitialMs: 30 * 60_000, retryMaxMs: 12 * 3_600_000 });
    expect(config.sweeps).toEqual({ armWritesPerSecond: 9.5, armWriteBurst: 190, enqueueConcurrency: 32 });
  });

  it('refuses a sweep write budget beyond what ARM grants one principal', () => {
    const message = configError(
      testSettings({
        SWEEP_ARM_WRITES_PER_SECOND: '12',
        SWEEP_ARM_WRITE_BURST: '250',
        SWEEP_ENQUEUE_CONCURRENCY: '0',
      }),
    );
    expect(message).toContain(
      "SWEEP_ARM_WRITES_PER_SECOND: expected at most 10 (ARM's refill rate per principal)",
    );
    expect(message).toContain(
      "SWEEP_ARM_WRITE_BURST: expected at most 200 (ARM's write burst per principal)",
    );
    expect(message).toContain('SWEEP_ENQUEUE_CONCURRENCY: expected at least 1');
  });

  it('uses an identity-based storage connection when only the account name is set', () => {
    const config = loadConfig(
      testSettings({ AzureWebJobsStorage: undefined, AzureWebJobsStorage__accountName: 'stclawbroker' }),
    );
    expect(config.storage).toMatchObject({
      kind: 'identity',
      queueServiceUri: 'https://stclawbroker.queue.core.windows.net',
    });
  });

  it('requires a storage connection of one kind or the other', () => {
    expect(configError(testSettings({ AzureWebJobsStorage: undefined }))).toContain(
      'AzureWebJobsStorage: missing',
    );
  });

  it('requires the client id and secret together for the client-secret credential', () => {
    expect(configError(testSettings({ AZURE_CREDENTIAL: 'client-secret' }))).toContain(
      'AZURE_CLIENT_ID / AZURE_CLIENT_SECRET',
    );
  });
});
