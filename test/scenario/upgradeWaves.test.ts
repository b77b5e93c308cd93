import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { SANDBOX_TELEGRAM, startSandboxWorld } from '../../sandbox/world.js';
import { createNpmRegistrySurface, type NpmRegistrySurface } from '../../sandbox/sim/npmRegistry.js';
import type { UpgradeState } from '../../shared/domain/upgradeState.js';
import { EnvironmentRegistry } from '../../shared/storage/environmentRegistry.js';
import { startSurfaceServer, type SurfaceServer } from '../sim/surfaceServer.js';
import { storageOn } from '../support/brokerStorage.js';
import { TestWorld } from '../support/testWorld.js';
import { upgradeOutcomes } from '../support/waveTestApp.js';

/**
 * Fleet upgrade waves end to end: the broker on the local host with Azurite, the simulator's
 * Telegram stand-in (the approval before the last ring, the wave's progress message), an npm
 * registry stand-in (publish times), and a stand-in of the per-slug upgrade (test/support/
 * waveTestApp.ts) that writes the registry's `upgrades.last` as the real one does. Driven through
 * the CLI as an operator would, with the commands the README shows.
 */
const FROM = '2026.8.2';
const TO = '2026.9.6';
const DAY = 86_400_000;
const ADA = SANDBOX_TELEGRAM.approvers[0].id;
const ADMIN_CHAT = SANDBOX_TELEGRAM.adminChatId;

let world: TestWorld;
let npm: NpmRegistrySurface;
let npmServer: SurfaceServer;
let registry: EnvironmentRegistry;

/** Eleven slugs on 2026.8.2: one canary, one held, one pinned, one not ready, one that failed 2026.9.6 before. */
const FLEET: Record<string, { state?: 'ready' | 'failed'; upgrades?: UpgradeState }> = {
  acme: {},
  'wave-a': { upgrades: { canary: true } },
  'wave-b': {},
  'wave-c': { upgrades: { hold: { at: '2026-11-01T00:00:00Z', by: 'alice', reason: 'customer demo' } } },
  'wave-d': { upgrades: { pinned: { at: '2026-11-01T00:00:00Z', by: 'alice', version: FROM } } },
  'wave-e': { state: 'failed' },
  'wave-f': {
    upgrades: { failed: { [TO]: { at: '2026-11-01T00:00:00Z', requestId: 'old-1', reason: 'gate failed' } } },
  },
  'wave-g': {},
  'wave-h': {},
  'wave-i': {},
  'wave-j': {},
};

async function seedFleet(): Promise<void> {
  for (const [slug, spec] of Object.entries(FLEET)) {
    await registry.update(slug, () => ({
      slug,
      state: spec.state ?? 'ready',
      incarnation: 1,
      openclawVersion: FROM,
      owners: [],
      secretAges: {},
      upgrades: spec.upgrades,
    }));
  }
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', world.host.baseUrl, ...args], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    env: { CLAW_BROKER_KEY: world.host.functionKey },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface WaveJson {
  waveId: string;
  status: string;
  reason?: string;
  rings: { name: string; slugs: number; done: number; succeeded: number; failed: number; state: string }[];
  skippedSlugs: { slug: string; reason: string }[];
  slugs: { slug: string; ring: number; state: string; outcome?: string }[];
  chat?: { messageId: number };
}

async function wave(waveId: string): Promise<WaveJson> {
  const shown = await cli('--json', 'upgrades', 'show', waveId);
  return JSON.parse(shown.out) as WaveJson;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The approval message of a wave (its last send or edit), once the admin chat has it. */
function approvalMessage(waveId: string) {
  return world.telegram
    .outbox(ADMIN_CHAT)
    .filter((entry) => entry.text.includes(`(request wave:${waveId})`))
    .at(-1);
}

async function pressApprove(waveId: string): Promise<void> {
  const message = await until(
    async () => approvalMessage(waveId),
    Boolean,
    `no approval message for ${waveId}`,
  );
  const data = message!.replyMarkup?.inline_keyboard.flat().find((b) => b.text === 'Approve')?.callback_data;
  await world.telegram.pressButton({
    chatId: message!.chatId,
    messageId: message!.messageId,
    fromUserId: ADA,
    callbackData: data!,
  });
}

/** Runs the upgrade timer now (Azure's admin endpoint for non-HTTP functions) and waits for the host to be idle. */
async function runUpgradeTimer(): Promise<void> {
  const response = await fetch(`${world.host.baseUrl}/admin/functions/upgradeWaveTimer`, {
    method: 'POST',
    headers: { 'x-functions-key': world.host.masterKey, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(202);
  await world.host.waitForIdle();
}

beforeAll(async () => {
  npm = createNpmRegistrySurface({ clock: { now: () => Date.now() } });
  npmServer = await startSurfaceServer(npm);
  npm.publish(FROM, new Date(Date.now() - 90 * DAY));
  world = await startSandboxWorld(
    {
      app: () => import('../support/waveTestApp.js'),
      hostPort: 0,
      settings: {
        DURABLE_TASK_HUB: 'clawwaves',
        NPM_REGISTRY_URL: `${npmServer.url}/npm`,
        // Canary, 40% of the rest, the rest: three rings, no bake (the replay tests prove the bake).
        UPGRADE_RINGS: '[{"size":"40%","bake":"0s","failureBudget":1},{"size":"rest","bake":"0s"}]',
        UPGRADE_WAVE_POLL_INTERVAL: '1s',
        APPROVAL_POLICY: '{"upgrade":{"approvers":1}}',
        UPGRADE_AUTO_WAVES: 'true',
      },
    },
    TestWorld,
  );
  registry = new EnvironmentRegistry(storageOn(world.azurite.connectionString).storage);
  await seedFleet();
}, 120_000);

afterAll(async () => {
  await world?.stop();
  await npmServer?.close();
});

describe('fleet upgrade waves', () => {
  it('refuses a version it does not know, and one too young, saying when it becomes eligible', async () => {
    const unknown = await cli('upgrades', 'start', '2027.1.5');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(
      /^error: UpgradeVersionUnknown: 2027\.1\.5 is not in the broker's support table/,
    );

    const publishedAt = new Date(Date.now() - 1 * DAY);
    npm.publish(TO, publishedAt);
    const young = await world.api('POST', '/api/upgrades', { version: TO });
    expect(young.status).toBe(409);
    expect(young.body).toMatchObject({ code: 'UpgradeVersionIneligible', reason: 'too-young' });
    expect(young.body['eligibleFrom']).toBe(new Date(publishedAt.getTime() + 7 * DAY).toISOString());

    const bad = await world.api('POST', '/api/upgrades', { release: TO });
    expect(bad.status).toBe(400);
    expect(bad.body['code']).toBe('BadRequest');
    expect((await world.api('GET', '/api/upgrades/no-such-wave')).status).toBe(404);
  });

  it('refuses the reserved upgrade: request ids from outside', async () => {
    const forged = await world.api('POST', '/api/requests', {
      op: 'upgrade',
      slug: 'acme',
      requestId: 'upgrade:2026.9.6-20261203T000000:acme',
      params: { targetVersion: TO },
    });
    expect(forged.status).toBe(400);
    expect(forged.body['code']).toBe('RequestIdReserved');
  });

  it('the upgrade timer starts a wave to the newest eligible version, and none when no slug would take it', async () => {
    npm.publish(TO, new Date(Date.now() - 30 * DAY));
    await runUpgradeTimer();
    const listed = await until(
      () => cli('--json', 'upgrades', 'list'),
      (answer) => (JSON.parse(answer.out) as WaveJson[]).length === 1,
      'a wave from the timer',
    );
    const [started] = JSON.parse(listed.out) as (WaveJson & { requestedBy: object; targetVersion: string })[];
    expect(started).toMatchObject({ targetVersion: TO, requestedBy: { kind: 'timer', id: 'upgrade-timer' } });
    await until(
      () => wave(started!.waveId),
      (w) => w.status === 'awaiting-approval',
      'approval',
    );
    // An operator decides a wave's approval as any other, by its request id (as the README shows).
    const approved = await cli('approve', `wave:${started!.waveId}`);
    expect(approved.code).toBe(0);
    expect(approved.out).toContain(`wave:${started!.waveId}: `);
    await until(
      () => wave(started!.waveId),
      (w) => w.status === 'completed',
      'completion',
    );

    // Only held, pinned, failed-before and not-ready slugs are left on 2026.8.2: nothing to start.
    await runUpgradeTimer();
    expect(JSON.parse((await cli('--json', 'upgrades', 'list')).out)).toHaveLength(1);
  });

  it('upgrades the fleet ring by ring, canary first, asking the admin chat before the last ring', async () => {
    await seedFleet();
    npm.publish(TO, new Date(Date.now() - 30 * DAY));
    const started = await cli('upgrades', 'start', TO);
    expect(started.code).toBe(0);
    const waveId = /^(\S+) starting/.exec(started.out)![1]!;
    expect(started.out).toContain(`progress: claw-broker upgrades show ${waveId}`);

    const again = await cli('upgrades', 'start', TO);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(
      new RegExp(
        `^error: WaveAlreadyRunning: wave ${waveId.replace(/\./g, '\\.')} (is running|was started this second and is running)`,
      ),
    );

    const waiting = await until(
      () => wave(waveId),
      (w) => w.status === 'awaiting-approval',
      'approval',
    );
    expect(waiting.rings.map((r) => [r.name, r.slugs, r.succeeded, r.state])).toEqual([
      ['canary', 1, 1, 'done'],
      ['ring 1', 3, 3, 'done'],
      ['ring 2', 3, 0, 'awaiting-approval'],
    ]);
    // Nothing of the last ring is enqueued while the approval waits: the wave holds no slug's queue.
    expect((await world.api('GET', `/api/requests/upgrade:${waveId}:wave-j`)).status).toBe(404);
    expect(waiting.skippedSlugs).toEqual([
      { slug: 'wave-c', reason: 'held by alice at 2026-11-01T00:00:00Z: customer demo' },
      { slug: 'wave-d', reason: `pinned to ${FROM} by alice` },
      { slug: 'wave-e', reason: 'not ready (failed)' },
      { slug: 'wave-f', reason: `${TO} failed on it before (old-1: gate failed)` },
    ]);

    await pressApprove(waveId);
    const done = await until(
      () => wave(waveId),
      (w) => w.status === 'completed',
      'completion',
    );
    expect(done.rings.map((r) => [r.done, r.succeeded, r.state])).toEqual([
      [1, 1, 'done'],
      [3, 3, 'done'],
      [3, 3, 'done'],
    ]);
    for (const slug of ['acme', 'wave-a', 'wave-b', 'wave-g', 'wave-h', 'wave-i', 'wave-j']) {
      const request = await world.api('GET', `/api/requests/upgrade:${waveId}:${slug}`);
      expect(request.body).toMatchObject({ status: 'succeeded', op: 'upgrade', slug });
      expect((await registry.get(slug))?.openclawVersion).toBe(TO);
    }
    expect((await registry.get('wave-c'))?.openclawVersion).toBe(FROM);

    // One progress message for the wave, edited as the rings moved, ending with the outcome.
    const progress = world.telegram
      .outbox(ADMIN_CHAT)
      .filter((entry) => entry.text.startsWith(`Upgrade wave ${waveId}`));
    expect(new Set(progress.map((entry) => entry.messageId)).size).toBe(1);
    const shown = world.telegram.message(ADMIN_CHAT, progress[0]!.messageId);
    expect(shown?.text).toContain('COMPLETED');
    expect(shown?.text).toContain('ring 2: done, 3/3 done, 3 upgraded');

    const table = await cli('upgrades', 'show', waveId);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`${waveId}  OpenClaw ${TO}  completed`);
    expect(table.out).toMatch(/canary\s+done\s+1\s+1\s+1\s+0\s+0\s+0/);
    expect(table.out).toContain('  wave-c: held by alice');
    const list = await cli('upgrades', 'list');
    expect(list.out).toMatch(
      new RegExp(
        `${waveId.replace(/\./g, '\\.')}\\s+${TO.replace(/\./g, '\\.')}\\s+completed\\s+1/1 3/3 3/3`,
      ),
    );
  });

  it('halts at a failed canary: no other ring is enqueued', async () => {
    await seedFleet();
    upgradeOutcomes.set('wave-a', 'rolled-back');
    const started = await world.api('POST', '/api/upgrades', { version: TO });
    expect(started.status).toBe(202);
    const waveId = started.body['waveId'] as string;
    const halted = await until(
      () => wave(waveId),
      (w) => w.status === 'halted',
      'halt',
    );
    expect(halted.reason).toMatch(/^a canary failed: wave-a \(the gate failed \(test\)\)/);
    expect(halted.rings.map((r) => r.state)).toEqual(['halted', 'not-run', 'not-run']);
    expect((await world.api('GET', `/api/requests/upgrade:${waveId}:wave-b`)).status).toBe(404);
    expect((await cli('upgrades', 'show', waveId)).code).toBe(1);
    upgradeOutcomes.clear();
  });

  it('holds, pins, pauses, resumes and aborts through the CLI as the README shows', async () => {
    await seedFleet();
    expect((await cli('upgrades', 'hold', 'acme', '--reason', 'customer demo')).out).toBe(
      'acme: held from upgrades',
    );
    expect((await registry.get('acme'))?.upgrades?.hold).toMatchObject({
      by: 'sandbox-operator',
      reason: 'customer demo',
    });
    expect((await cli('upgrades', 'pin', 'wave-g', FROM)).out).toBe(`wave-g: pinned to ${FROM}`);
    expect((await registry.get('wave-g'))?.upgrades?.pinned).toMatchObject({
      version: FROM,
      by: 'sandbox-operator',
    });
    const missing = await cli('upgrades', 'hold', 'no-such-slug');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('error: NotFound: no environment for slug no-such-slug');

    // Paused at once: whichever ring is next does not start while paused.
    const started = await cli('upgrades', 'start', TO);
    const waveId = /^(\S+) starting/.exec(started.out)![1]!;
    const paused = await cli('upgrades', 'pause', waveId, '--reason', 'looking at the canary');
    expect(paused.out).toMatch(
      new RegExp(`^${waveId.replace(/\./g, '\\.')}: pause recorded \\((starting|running|paused|waiting)\\)$`),
    );
    expect(paused.code).toBe(0);
    const held = await until(
      () => wave(waveId),
      (w) => w.status === 'paused',
      'pause',
    );
    expect(held.skippedSlugs.map((s) => s.slug)).toEqual(expect.arrayContaining(['acme', 'wave-g']));
    const ringsWhilePaused = held.rings.map((r) => r.state);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await wave(waveId)).rings.map((r) => r.state)).toEqual(ringsWhilePaused);

    expect((await cli('upgrades', 'resume', waveId)).code).toBe(0);
    await until(
      () => wave(waveId),
      (w) => w.status === 'awaiting-approval',
      'the approval after resuming',
    );
    expect((await cli('upgrades', 'abort', waveId, '--reason', 'bad release notes')).code).toBe(0);
    // The abort is stored; it takes effect once the approval ends, and the last ring never starts.
    await pressApprove(waveId);
    const aborted = await until(
      () => wave(waveId),
      (w) => w.status === 'aborted',
      'abort',
    );
    expect(aborted.reason).toBe('aborted by sandbox-operator: bad release notes');
    expect(aborted.rings.at(-1)?.state).toBe('not-run');
    expect((await world.api('GET', `/api/requests/upgrade:${waveId}:wave-j`)).status).toBe(404);

    const ended = await cli('upgrades', 'resume', waveId);
    expect(ended.code).toBe(1);
    expect(ended.err).toContain(`error: WaveEnded: wave ${waveId} has ended (aborted)`);

    expect((await cli('upgrades', 'release', 'acme')).out).toBe('acme: no longer held');
    expect((await registry.get('acme'))?.upgrades?.hold).toBeUndefined();
    expect((await cli('upgrades', 'unpin', 'acme')).out).toBe('acme: not pinned');
    expect((await cli('upgrades', 'pin', 'acme', '2026.8.2')).out).toBe('acme: pinned to 2026.8.2');
    expect((await cli('upgrades', 'unpin', 'acme')).out).toBe('acme: not pinned');
    expect((await cli('upgrades', 'unpin', 'wave-g')).out).toBe('wave-g: not pinned');
    expect((await registry.get('wave-g'))?.upgrades?.pinned).toBeUndefined();
  });

  it('leaves no secret in anything the waves wrote: storage, histories, logs, chat', async () => {
    const secrets = world.secretValues();
    expect(secrets.length).toBeGreaterThan(0);
    const places = await world.observableText();
    places.push({ where: 'admin chat', text: JSON.stringify(world.telegram.outbox(ADMIN_CHAT)) });
    const leaks = places.flatMap((place) =>
      secrets.filter((secret) => place.text.includes(secret)).map(() => place.where),
    );
    expect(leaks).toEqual([]);
  });
});
