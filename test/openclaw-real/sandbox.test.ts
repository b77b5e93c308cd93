import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAT, startChatWorld, type ChatWorld } from '../support/chatWorld.js';
import { getJson, until } from './support.js';

/**
 * `npm run sandbox -- --real-openclaw`, as a person uses it: the broker provisions a slug in the
 * sandbox world and the simulator's gateway URL is served by a real OpenClaw gateway started with
 * what the broker delivered (config from the app's secret, env with Key Vault references resolved,
 * the state share a real directory). Its /readyz is the real one; a device pairs through the
 * sidecar and the admin chat's /devices lists and approves it through the real admin RPC.
 */
let chat: ChatWorld;

beforeAll(async () => {
  chat = await startChatWorld({
    realOpenClaw: {},
    settings: { DURABLE_TASK_HUB: 'clawrealsandbox', PROVISION_READY_TIMEOUT: '5m' },
  });
}, 120_000);

afterAll(async () => {
  await chat?.stop();
});

describe('the sandbox with the real OpenClaw', () => {
  it('provisions a slug whose gateway is a real OpenClaw that reaches ready through the broker', async () => {
    const { world } = chat;
    const view = await world.provision('acme', 'real-prov-acme', { channels: [] });
    expect(view.status).toBe('succeeded');
    const [gateway] = world.realOpenClaw!.list();
    expect(gateway).toMatchObject({ app: 'ca-acme', version: '2026.9.6', ready: true, exited: false });
    console.log(
      `sandbox real gateway: ready ${((gateway!.readyInMs ?? 0) / 1000).toFixed(1)} s after spawn, RSS ${gateway!.rssMb} MB`,
    );
    // The simulator's gateway URL answers with the real /readyz. Through the sidecar (a remote
    // client, as the broker is in Azure) the real gateway tells only `ready`; on loopback it adds
    // its event-loop figures, which the stand-in does not have. The state share is a real directory.
    expect(await getJson(`${world.sim.url}/openclaw/ca-acme/readyz`)).toEqual({
      status: 200,
      body: { ready: true },
    });
    expect((await getJson(`${gateway!.url}/readyz`)).body).toHaveProperty('eventLoop');
    expect(existsSync(path.join(gateway!.stateDir, 'state', 'openclaw.sqlite'))).toBe(true);
    const admin = await getJson(`${world.sim.url}/real-openclaw/`);
    expect((admin.body as { gateways: unknown[] }).gateways).toHaveLength(1);
  });

  it('pairs a device from the admin chat: /devices lists the real request and Approve pairs it', async () => {
    const { world, telegram } = chat;
    const asked = await fetch(`${world.sim.url}/real-openclaw/ca-acme/pair`, { method: 'POST' });
    expect(asked.status).toBe(202);
    const listing = await until('the pairing request in /devices', async () => {
      const messages = await chat.say('/devices acme');
      return messages[0]?.text === '1 pending pairing request(s) for acme:' ? messages : undefined;
    });
    const card = listing[1]!;
    const approve = card
      .replyMarkup!.inline_keyboard.flat()
      .find((b) => b.text === 'Approve')!.callback_data!;
    const press = await telegram.pressButton({
      chatId: CHAT.adminChatId,
      messageId: card.messageId,
      fromUserId: CHAT.ada,
      callbackData: approve,
    });
    expect(press.status).toBe(200);
    expect(telegram.callbackQuery(press.update.callback_query!.id)).toMatchObject({
      answered: true,
      answer: { text: 'Device approved.' },
    });
    expect((await chat.say('/devices acme'))[0]?.text).toBe('No pending pairing requests for acme.');
  });
});
