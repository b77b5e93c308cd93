import { describe, expect, it } from 'vitest';
import { planStagedSecrets, stagedSecretName } from '../../shared/intake/stagedSecrets.js';

const vault = 'https://kv-claw-broker.vault.azure.net/';

describe('staging the secrets a request supplies', () => {
  it('replaces each secret by a reference into the broker vault and lists what to write', () => {
    const plan = planStagedSecrets({
      op: 'provision',
      requestId: 'req-1',
      params: { channels: ['telegram'], foundry: { endpoint: 'https://f.example', deployment: 'gpt' } },
      secrets: { telegramBotToken: 'bot-value', foundryApiKey: 'key-value' },
      stagingVaultUri: vault,
    });
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.params).toEqual({
      channels: ['telegram'],
      telegramBotToken: { secretRef: `${vault}secrets/${stagedSecretName('req-1', 'telegramBotToken')}` },
      foundry: {
        endpoint: 'https://f.example',
        deployment: 'gpt',
        apiKey: { secretRef: `${vault}secrets/${stagedSecretName('req-1', 'foundryApiKey')}` },
      },
    });
    expect(plan.toStage.map((s) => s.value)).toEqual(['bot-value', 'key-value']);
    expect(JSON.stringify(plan.params)).not.toContain('bot-value');
  });

  it('names staged secrets validly and stably for any request id', () => {
    const name = stagedSecretName('weird:id.with_chars', 'telegramBotToken');
    expect(name).toMatch(/^[0-9A-Za-z-]{1,127}$/);
    expect(name).toBe(stagedSecretName('weird:id.with_chars', 'telegramBotToken'));
    expect(name).not.toBe(stagedSecretName('other', 'telegramBotToken'));
  });

  it.each([
    [
      { op: 'teardown', secrets: { telegramBotToken: 'x' } },
      'secrets',
      'only provision requests take secrets',
    ],
    [{ op: 'provision', secrets: { password: 'x' } }, 'secrets.password', 'unknown secret'],
    [{ op: 'provision', secrets: { telegramBotToken: '  ' } }, 'secrets.telegramBotToken', 'empty secret'],
    [
      { op: 'provision', secrets: { telegramBotToken: 'x'.repeat(5000) } },
      'secrets.telegramBotToken',
      'longer than',
    ],
    [{ op: 'provision', secrets: { foundryApiKey: 'x' } }, 'secrets.foundryApiKey', 'needs params.foundry'],
  ])('refuses %j with the path and reason', (input, path, message) => {
    const plan = planStagedSecrets({ requestId: 'r', params: {}, stagingVaultUri: vault, ...input });
    expect(plan).toMatchObject({ ok: false, path, message: expect.stringContaining(message) });
  });
});
