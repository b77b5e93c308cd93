import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { runCli } from '../../cli/main.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxWorld, type SandboxWorld } from '../../sandbox/world.js';
import { stagedSecretName } from '../../shared/intake/stagedSecrets.js';

/**
 * Secrets supplied with a provision request are staged in the broker's Key Vault by the API; the
 * request, its queue message, the orchestration history and the logs carry only the reference.
 * (What provisioning does with the staged secret is covered by the provisioning scenarios.)
 */
let world: SandboxWorld;
const BOT_TOKEN = '8123456789:AAE-staged-secret-value-for-the-test-only';

beforeAll(async () => {
  world = await startSandboxWorld({ hostPort: 0 });
});

afterAll(async () => {
  await world?.stop();
});

async function post(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${world.host.baseUrl}/api/requests`, {
    method: 'POST',
    headers: { 'x-functions-key': world.host.functionKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('secrets supplied with a request', () => {
  it('are staged in the staging vault, and the request carries only a reference to them', async () => {
    const submitted = await post({
      op: 'provision',
      slug: 'staged',
      requestId: 'staged-1',
      params: { channels: ['telegram'] },
      secrets: { telegramBotToken: BOT_TOKEN },
    });
    expect(submitted.status).toBe(202);
    expect(JSON.stringify(submitted.body)).not.toContain(BOT_TOKEN);

    const vaultUri = world.settings['STAGING_KEY_VAULT_URI']!;
    const name = stagedSecretName('staged-1', 'telegramBotToken');
    // Key Vault answers the first, unauthenticated PUT with its 401 challenge; the retry stores it.
    const staging = world.sim.admin
      .requests()
      .filter((entry) => entry.method === 'PUT' && entry.path.endsWith(`/secrets/${name}`))
      .map((entry) => entry.status);
    expect(staging).toContain(200);
    const queued = await new QueueClient(world.azurite.connectionString, 'lifecycle-requests').peekMessages({
      numberOfMessages: 32,
    });
    expect(JSON.stringify(queued.peekedMessageItems)).not.toContain(BOT_TOKEN);
    const response = await fetch(`${world.host.baseUrl}/api/requests/staged-1`, {
      headers: { 'x-functions-key': world.host.functionKey },
    });
    const view = JSON.stringify(await response.json());
    expect(view).not.toContain(BOT_TOKEN);

    await world.host.waitForIdle();
    const everything = [
      JSON.stringify(world.host.logs),
      JSON.stringify(world.sim.admin.requests()),
      JSON.stringify(world.host.history(`op:staged-1`) ?? []),
    ].join('\n');
    expect(everything).not.toContain(BOT_TOKEN);
    expect(everything).toContain(`${vaultUri}secrets/${name}`);
  });

  it('refuses a secret for an operation that takes none, before anything is stored', async () => {
    const refused = await post({ op: 'teardown', slug: 'staged', secrets: { telegramBotToken: BOT_TOKEN } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 'RequestSchemaViolation', errors: [{ path: 'secrets' }] });
  });

  it('refuses, at intake and before any Azure call, a reference to anything but the secret staged for that request (queue and API)', async () => {
    const vaultUri = world.settings['BROKER_KEY_VAULT_URI']!;
    const foreign = [
      // The broker's own bot token: a provision would have moved it into the attacker's slug vault.
      `${vaultUri}secrets/telegram-bot-token`,
      // Another name in the staging vault (another request's staged secret).
      `${world.stagingVaultUri}secrets/${stagedSecretName('someone-else', 'telegramBotToken')}`,
      // Another slug's vault on the same (simulated) Key Vault host.
      `${vaultUri.replace('kv-', 'kv-victim-')}secrets/gateway-token`,
      // Any HTTPS host: the broker would have called it with a bearer token.
      'https://127.0.0.1:1/secrets/anything',
    ];
    const before = world.sim.admin.requests().at(-1)?.seq ?? 0;
    const queue = new QueueClient(world.azurite.connectionString, 'lifecycle-requests');
    for (const [index, secretRef] of foreign.entries()) {
      await queue.sendMessage(
        JSON.stringify({
          schemaVersion: 1,
          requestId: `steal-q-${index}`,
          op: 'provision',
          slug: 'thief',
          params: { channels: ['telegram'], telegramBotToken: { secretRef } },
          requestedBy: { kind: 'operator', id: 'mallory@example.com' },
          requestedAt: new Date().toISOString(),
        }),
      );
      const viaApi = await post({
        op: 'provision',
        slug: 'thief',
        requestId: `steal-api-${index}`,
        params: { channels: ['telegram'], telegramBotToken: { secretRef } },
      });
      expect(viaApi.status).toBe(400);
      expect(viaApi.body).toMatchObject({ code: 'SecretReferenceRefused' });
    }
    for (const index of foreign.keys()) {
      let view: Record<string, unknown> = {};
      for (let attempt = 0; attempt < 100 && view['status'] !== 'rejected'; attempt++) {
        const response = await fetch(`${world.host.baseUrl}/api/requests/steal-q-${index}`, {
          headers: { 'x-functions-key': world.host.functionKey },
        });
        view = (await response.json()) as Record<string, unknown>;
        if (view['status'] !== 'rejected') await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(view).toMatchObject({ status: 'rejected' });
      expect(String(view['reason'])).toMatch(/may only name the secret staged for this request/);
    }
    await world.host.waitForIdle();
    const vaultCalls = world.sim.admin
      .requests(before)
      .filter((entry) => entry.surface === 'keyVault' || /\/secrets\//.test(entry.path));
    expect(vaultCalls).toEqual([]);
  });

  it("the sandbox's printed command `claw-broker request provision zeta --secret telegramBotToken=@bot-token --wait` provisions with the token, which the request never carries", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claw-cli-'));
    const file = join(dir, 'bot-token');
    const token = `7000000002:${randomBytes(16).toString('hex')}`;
    writeFileSync(file, token);
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [
        'request',
        'provision',
        'zeta',
        '--secret',
        `telegramBotToken=@${file}`,
        '--wait',
        '--request-id',
        'cli-zeta',
      ],
      {
        out: (text) => out.push(text),
        err: (text) => err.push(text),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
        env: { CLAW_BROKER_URL: world.host.baseUrl, CLAW_BROKER_KEY: world.host.functionKey },
      },
    );
    expect({ code, last: out.at(-1), err }).toMatchObject({
      code: 0,
      last: expect.stringMatching(/^succeeded/),
    });
    const response = await fetch(`${world.host.baseUrl}/api/requests/cli-zeta`, {
      headers: { 'x-functions-key': world.host.functionKey },
    });
    const view = JSON.stringify(await response.json());
    expect(view).not.toContain(token);
    // The token reached the slug's vault (the gateway got it) and no copy is left in staging.
    const staged = stagedSecretName('cli-zeta', 'telegramBotToken');
    await expect(world.stagingSecrets.getDeletedSecret(staged)).rejects.toMatchObject({ statusCode: 404 });
    const vault = [...world.sim.keyVault.exportState()].find(([name]) => name.startsWith('kv-zeta'));
    const values = (vault?.[1].secrets ?? []).flatMap(([, secret]) => secret.versions.map((v) => v.value));
    expect(values).toContain(token);
  });
});
