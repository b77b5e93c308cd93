import { SIMULATED_STATE_SCHEMA_PATH } from '../../sandbox/sim/openclaw.js';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import { ManualClock } from '../../sandbox/host/index.js';
import type { OutboxEntry } from '../../sandbox/sim/telegram.js';
import { CHAT, startChatWorld, type ChatWorld } from '../support/chatWorld.js';
import { poll } from '../support/approvalWorld.js';
import type { ProvisionWorld, RequestView } from './provisionWorld.js';

/**
 * Teardown end to end on the local host against the simulated Azure, Graph, OpenClaw and Telegram:
 * provision, request teardown, approve (or not) from the admin chat, and look at what is left.
 * The host runs on a ManualClock that a pump moves forward while provisioning waits on its
 * durable timers; the expiry test stops the pump and jumps past the approval deadline.
 */
let chat: ChatWorld;
let world: ProvisionWorld;
const clock = new ManualClock(Date.now());
let pumping = false;
let pump: Promise<void> = Promise.resolve();

function startPump(): void {
  if (pumping) return;
  pumping = true;
  pump = (async () => {
    while (pumping) {
      await clock.advance(1_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
}

async function stopPump(): Promise<void> {
  pumping = false;
  await pump;
}

beforeAll(async () => {
  chat = await startChatWorld({
    clock,
    settings: {
      DURABLE_TASK_HUB: 'clawteardown',
      PROVISION_PROPAGATION_TIMEOUT: '60m',
      PROVISION_READY_TIMEOUT: '60m',
      TEARDOWN_BACKUP_RETENTION: '30d',
      // No maintenance while the last test jumps a month ahead: only housekeeping is looked at.
      SWEEPS_PAUSED: 'true',
    },
  });
  world = chat.world;
  startPump();
}, 120_000);

afterAll(async () => {
  await stopPump();
  await chat?.stop();
});

async function provision(slug: string, requestId: string): Promise<RequestView> {
  const ref = await world.stageSecret(requestId, `7000000079:${randomBytes(24).toString('base64url')}`);
  return world.provision(slug, requestId, { telegramBotToken: { secretRef: ref } });
}

async function requestTeardown(
  slug: string,
  requestId: string,
  params: Record<string, unknown> = {},
): Promise<void> {
  const answer = await world.api('POST', '/api/requests', { op: 'teardown', slug, requestId, params });
  expect(answer.status).toBe(202);
}

function approvalMessage(requestId: string): OutboxEntry | undefined {
  return chat.telegram
    .outbox(CHAT.adminChatId)
    .filter((entry) => entry.text.includes(`(request ${requestId})`))
    .at(-1);
}

async function awaitingApproval(requestId: string): Promise<OutboxEntry> {
  await world.until(requestId, (view) => view.status === 'awaiting-approval', 'awaiting-approval');
  // The status turns awaiting-approval as the approval starts; the message follows.
  return poll(
    async () => approvalMessage(requestId),
    (message) => message !== undefined,
    () => `no approval message for ${requestId}`,
  ) as Promise<OutboxEntry>;
}

async function press(requestId: string, button: 'Approve' | 'Reject', userId: number) {
  const message = approvalMessage(requestId)!;
  const data = message.replyMarkup!.inline_keyboard.flat().find((b) => b.text === button)!.callback_data!;
  return chat.telegram.pressButton({
    chatId: message.chatId,
    messageId: message.messageId,
    fromUserId: userId,
    callbackData: data,
  });
}

async function backupBlobs(prefix: string): Promise<string[]> {
  const container = BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(
    'teardown-backups',
  );
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  return names;
}

const groupExists = (slug: string) => world.sim.arm.resourceGroupExists(`claw-${slug}`);

describe('tearing a slug down', () => {
  it('asks the admin chat with what will be deleted, and on approval backs up, deletes and marks the slug deleted', async () => {
    expect(await provision('acme', 'td-prov-1')).toMatchObject({ status: 'succeeded' });
    const before = await world.environment('acme');
    expect(before).toMatchObject({ state: 'ready', incarnation: 1 });

    // What the gateway keeps on its state share (pairings, its database) must survive in the backup.
    const account = world.sim.arm
      .find('Microsoft.Storage/storageAccounts')
      .find((resource) => resource.resourceGroup === 'claw-acme')!.name;
    world.sim.files.write(account, 'openclaw-state', 'devices/paired.json', '{"devices":["ada-laptop"]}');
    world.sim.files.write(account, 'openclaw-state', 'openclaw.db', Buffer.from([1, 2, 3, 4]));

    await requestTeardown('acme', 'td-acme-1', { reason: 'customer left' });
    const asked = await awaitingApproval('td-acme-1');
    expect(asked.text).toContain('Approval needed: teardown of acme');
    expect(asked.text).toContain('reason given: customer left');
    expect(asked.text).toMatch(/DELETES resource group claw-acme and its \d+ resource\(s\)/);
    expect(asked.text).toMatch(/keeps Key Vault kv-acme-\S+ soft-deleted/);
    expect(asked.text).toContain('removes the Entra app registration claw-acme');
    expect(asked.text).toContain('removes the Entra group shire-acme');
    expect(asked.text).toMatch(
      /first copies the state share openclaw-state of st\S+ to the broker's storage, kept 30d/,
    );
    expect(groupExists('acme')).toBe(true);
    // The gateway identity's AcrPull on the shared registry lies outside the group.
    const gatewayPrincipal = world.sim.arm
      .find('Microsoft.ManagedIdentity/userAssignedIdentities')
      .find((resource) => resource.resourceGroup === 'claw-acme')!.body['properties'] as {
      principalId: string;
    };
    const registryGrants = () =>
      [...world.sim.arm.roleAssignments.values()].filter(
        (assignment) =>
          assignment.principalId === gatewayPrincipal.principalId &&
          /\/Microsoft\.ContainerRegistry\/registries\//i.test(assignment.scope),
      );
    expect(registryGrants()).toHaveLength(1);

    await press('td-acme-1', 'Approve', CHAT.ada);
    const done = await world.untilFinished('td-acme-1');
    expect(done, JSON.stringify(done)).toMatchObject({ status: 'succeeded' });
    expect(done.summary).toContain('deleted claw-acme');
    expect(done.summary).toContain(`approved by ${CHAT.ada}`);

    expect(groupExists('acme')).toBe(false);
    expect(registryGrants()).toEqual([]);
    const after = await world.environment('acme');
    expect(after).toMatchObject({
      state: 'deleted',
      incarnation: 1,
      teardown: {
        requestId: 'td-acme-1',
        backupLocation: 'teardown-backups/acme/1/td-acme-1/',
        keyVault: 'kept',
      },
    });
    // Everything on the share: the files above and the state the gateway stand-in migrated at start.
    expect((await backupBlobs('acme/1/td-acme-1/')).sort()).toEqual([
      'acme/1/td-acme-1/files/devices/paired.json',
      'acme/1/td-acme-1/files/openclaw.db',
      `acme/1/td-acme-1/files/${SIMULATED_STATE_SCHEMA_PATH}`,
      'acme/1/td-acme-1/manifest.json',
    ]);
    const backups = BlobServiceClient.fromConnectionString(world.azurite.connectionString).getContainerClient(
      'teardown-backups',
    );
    const paired = await backups
      .getBlobClient('acme/1/td-acme-1/files/devices/paired.json')
      .downloadToBuffer();
    expect(paired.toString('utf8')).toBe('{"devices":["ada-laptop"]}');
    const manifest = JSON.parse(
      (await backups.getBlobClient('acme/1/td-acme-1/manifest.json').downloadToBuffer()).toString('utf8'),
    ) as { files: { path: string; bytes: number }[]; retainUntil: string };
    expect(manifest.files).toEqual(
      expect.arrayContaining([
        { path: 'devices/paired.json', bytes: 26 },
        { path: 'openclaw.db', bytes: 4 },
      ]),
    );
    expect(done.summary).toMatch(
      /backup at teardown-backups\/acme\/1\/td-acme-1\/ \(3 file\(s\)\) kept until /,
    );
    const vaults = [...world.sim.arm.deletedVaults.values()].map((vault) => vault.name);
    expect(vaults.some((name) => name.startsWith('kv-acme-'))).toBe(true);
    expect(chat.world.graph.groups('shire-acme')).toEqual([]);
  });

  it('provisions the same slug again while the old Key Vault name is still reserved', async () => {
    const again = await provision('acme', 'td-prov-2');
    expect(again, JSON.stringify(again)).toMatchObject({ status: 'succeeded' });
    expect(await world.environment('acme')).toMatchObject({ state: 'ready', incarnation: 2 });
    expect(groupExists('acme')).toBe(true);
  });

  it('succeeds as a no-op for a slug that is already gone, without asking anyone', async () => {
    await requestTeardown('ghost', 'td-ghost-1');
    const done = await world.untilFinished('td-ghost-1');
    expect(done).toMatchObject({ status: 'succeeded', summary: expect.stringContaining('already gone') });
    expect(approvalMessage('td-ghost-1')).toBeUndefined();
  });
});

describe('a teardown that does not go ahead changes nothing', () => {
  it('refuses the requester approving their own teardown, and a rejection leaves everything in place', async () => {
    await requestTeardown('acme', 'td-acme-2');
    await awaitingApproval('td-acme-2');
    const own = await world.api('POST', '/api/requests/td-acme-2/approve', {});
    expect(own.status).toBe(403);
    expect(own.body).toMatchObject({ code: 'ApprovalForbidden' });

    await press('td-acme-2', 'Reject', CHAT.brian);
    expect(await world.untilFinished('td-acme-2')).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/^rejected by Brian \(telegram 1002\)/),
    });
    expect(groupExists('acme')).toBe(true);
    expect(await world.environment('acme')).toMatchObject({ state: 'ready', incarnation: 2 });
    expect(await backupBlobs('acme/2/')).toEqual([]);
  });

  it('rejects when nobody decides before the deadline, leaving everything in place', async () => {
    await requestTeardown('acme', 'td-acme-3');
    await awaitingApproval('td-acme-3');
    await stopPump();
    try {
      await clock.advance(25 * 3_600_000);
    } finally {
      startPump();
    }
    expect(await world.untilFinished('td-acme-3')).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/^approval expired at /),
    });
    expect(approvalMessage('td-acme-3')!.text).toMatch(/EXPIRED at \S+ with no decision/);
    expect(groupExists('acme')).toBe(true);
    expect(await world.environment('acme')).toMatchObject({ state: 'ready', incarnation: 2 });
  });

  it('refuses a resource group holding a resource the broker did not create, before asking anyone', async () => {
    const id = `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-acme/providers/Microsoft.ManagedIdentity/userAssignedIdentities/someone-elses`;
    const now = world.sim.clock.now();
    world.sim.arm.put({
      id,
      type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
      name: 'someone-elses',
      subscriptionId: world.sim.subscriptionId,
      resourceGroup: 'claw-acme',
      body: {
        id,
        name: 'someone-elses',
        type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
        location: 'westeurope',
        tags: {},
        properties: {},
      },
      hidden: {},
      createdAt: now,
      updatedAt: now,
    });
    try {
      await requestTeardown('acme', 'td-acme-4');
      expect(await world.untilFinished('td-acme-4')).toMatchObject({
        status: 'rejected',
        reason: expect.stringContaining(
          'resource group claw-acme holds resources claw-broker did not create: Microsoft.ManagedIdentity/userAssignedIdentities/someone-elses',
        ),
      });
      expect(approvalMessage('td-acme-4')).toBeUndefined();
      expect(groupExists('acme')).toBe(true);
    } finally {
      world.sim.arm.remove(id);
    }
  });

  it('refuses a resource group without the broker ownership tag', async () => {
    const id = `/subscriptions/${world.sim.subscriptionId}/resourceGroups/claw-foreign`;
    const now = world.sim.clock.now();
    world.sim.arm.put({
      id,
      type: 'Microsoft.Resources/resourceGroups',
      name: 'claw-foreign',
      subscriptionId: world.sim.subscriptionId,
      resourceGroup: 'claw-foreign',
      body: {
        id,
        name: 'claw-foreign',
        type: 'Microsoft.Resources/resourceGroups',
        location: 'westeurope',
        tags: { owner: 'someone else' },
        properties: { provisioningState: 'Succeeded' },
      },
      hidden: {},
      createdAt: now,
      updatedAt: now,
    });
    await requestTeardown('foreign', 'td-foreign-1');
    expect(await world.untilFinished('td-foreign-1')).toMatchObject({
      status: 'rejected',
      reason: expect.stringContaining('resource group claw-foreign is not managed by claw-broker'),
    });
    expect(groupExists('foreign')).toBe(true);
  });
});

describe('secrets during teardown', () => {
  it('keeps storage keys, gateway tokens and the bot tokens out of storage, histories, the audit trail and logs', async () => {
    const secrets = world.secretValues();
    const places = await world.observableText();
    expect(
      places.some((place) => place.where.startsWith('blob teardown-backups/acme/1/td-acme-1/manifest.json')),
    ).toBe(true);
    for (const secret of secrets) {
      expect(places.filter((place) => place.text.includes(secret)).map((place) => place.where)).toEqual([]);
    }
  });
});

describe('after the retention', () => {
  it('deletes the backup once its retention has passed, at the next daily housekeeping', async () => {
    const DAY = 24 * 3_600_000;
    const manifest = BlobServiceClient.fromConnectionString(world.azurite.connectionString)
      .getContainerClient('teardown-backups')
      .getBlobClient('acme/1/td-acme-1/manifest.json');
    const { retainUntil } = JSON.parse((await manifest.downloadToBuffer()).toString('utf8')) as {
      retainUntil: string;
    };
    await stopPump();
    try {
      // Up to a day before the retention ends, through every daily housekeeping on the way: kept.
      await clock.advanceTo(Date.parse(retainUntil) - DAY);
      expect(await backupBlobs('acme/1/td-acme-1/')).toHaveLength(4);
      await clock.advance(2 * DAY);
    } finally {
      startPump();
    }
    await poll(
      () => backupBlobs('acme/1/td-acme-1/'),
      (names) => names.length === 0,
      () => 'the expired backup is still there',
    );
  });
});
