import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TelegramSurface } from '../../sandbox/sim/telegram.js';
import type { ProvisionWorld } from './provisionWorld.js';
import { CHAT, startChatWorld, type ChatWorld } from '../support/chatWorld.js';

/**
 * Chat commands and device pairing from the admin chat, end to end: the broker on the local host
 * against the simulated Azure, its OpenClaw gateway stand-in and a simulated Telegram. `acme` is
 * provisioned for real (so its gateway token lives only in its own Key Vault); a browser asks to
 * pair; `/devices acme` lists it with buttons; a press approves or rejects it through the
 * gateway's admin RPC.
 */
const ADMIN_CHAT = CHAT.adminChatId;
const ADA = CHAT.ada;
const BRIAN = CHAT.brian;
const EVE = CHAT.eve;

let chat: ChatWorld;
let world: ProvisionWorld;
let telegram: TelegramSurface;

beforeAll(async () => {
  chat = await startChatWorld();
  world = chat.world;
  telegram = chat.telegram;
}, 120_000);

afterAll(async () => {
  await chat?.stop();
});

const say = (text: string, from?: number, chatId?: number) => chat.say(text, from, chatId);
const audit = (query?: string) => chat.audit(query);

describe('chat commands before any environment exists', () => {
  it('answers /envs and /status from the registry, and /devices fails clearly', async () => {
    expect((await say('/envs')).map((m) => m.text)).toEqual(['No environments.']);
    expect((await say('/status acme')).map((m) => m.text)).toEqual(['No environment acme.']);
    expect((await say('/devices acme')).map((m) => m.text)).toEqual([
      'Cannot list devices: no environment acme.',
    ]);
    expect((await say('/status Not_A_Slug')).map((m) => m.text)[0]).toMatch(/^Invalid slug: /);
  });

  it('ignores commands from someone who is not an approver, or from another chat, and audits them', async () => {
    expect(await say('/envs', EVE)).toEqual([]);
    expect(await say('/envs', ADA, ADA)).toEqual([]);
    const refused = (await audit()).filter((e) => e.action === 'command /envs' && e.outcome === 'refused');
    expect(refused).toContainEqual(
      expect.objectContaining({
        actor: `telegram:${EVE}`,
        reason: `telegram user ${EVE} is not an approver`,
      }),
    );
    expect(refused).toContainEqual(
      expect.objectContaining({ actor: `telegram:${ADA}`, reason: `chat ${ADA} is not the admin chat` }),
    );
  });
});

describe('an environment and its devices from chat', () => {
  it('provisions acme, then /envs and /status show it ready', async () => {
    const slugBot = await world.stageSecret(
      'chat-prov-acme',
      `7000000078:${randomBytes(24).toString('base64url')}`,
    );
    const view = await world.provision('acme', 'chat-prov-acme', {
      telegramBotToken: { secretRef: slugBot },
    });
    expect(view, JSON.stringify(view)).toMatchObject({ status: 'succeeded' });
    const envs = (await say('/envs')).map((m) => m.text);
    expect(envs).toHaveLength(1);
    expect(envs[0]).toMatch(/^Environments:\nacme: ready, 2026\.9\.6, https:\/\/\S+$/);
    const status = (await say('/status acme')).map((m) => m.text)[0]!;
    expect(status).toMatch(/^acme: ready\nversion 2026\.9\.6\nurl https:\/\/\S+/);
    expect(status).toContain('last operation: provision succeeded');
  });

  it('lists pending pairing requests with buttons, and Approve pairs the device through the gateway', async () => {
    const laptop = world.openclaw.requestPairing('ca-acme', {
      displayName: "Ada's laptop",
      platform: 'macos',
    });
    const listing = await say('/devices acme');
    expect(listing[0]!.text).toBe('1 pending pairing request(s) for acme:');
    const card = listing[1]!;
    expect(card.text).toBe(
      `Pairing request on acme: Ada's laptop\nplatform macos\nrequest ${laptop.requestId}`,
    );
    const approve = card
      .replyMarkup!.inline_keyboard.flat()
      .find((b) => b.text === 'Approve')!.callback_data!;
    expect(approve).not.toContain(laptop.requestId);

    const press = await telegram.pressButton({
      chatId: ADMIN_CHAT,
      messageId: card.messageId,
      fromUserId: ADA,
      callbackData: approve,
    });
    expect(press.status).toBe(200);
    expect(telegram.callbackQuery(press.update.callback_query!.id)).toMatchObject({
      answered: true,
      answer: { text: 'Device approved.' },
    });
    const pairings = world.openclaw.pairings('ca-acme');
    expect(pairings.pending).toEqual([]);
    expect(pairings.paired.map((d) => d.deviceId)).toEqual([laptop.deviceId]);
    const shown = telegram.message(ADMIN_CHAT, card.messageId)!;
    expect(shown.text).toMatch(new RegExp(`APPROVED by Ada \\(telegram ${ADA}\\) at \\S+\\.$`));
    expect(shown.reply_markup).toBeUndefined();
    expect(await audit('&slug=acme')).toContainEqual(
      expect.objectContaining({
        action: 'pairing approve',
        outcome: 'approved',
        actor: `telegram:${ADA}`,
        pairingRequestId: laptop.requestId,
      }),
    );
  });

  it('rejects a pairing request with Reject, and refuses the button when pressed again or by an outsider', async () => {
    const phone = world.openclaw.requestPairing('ca-acme', { displayName: 'unknown phone' });
    const card = (await say('/devices acme'))[1]!;
    const buttons = card.replyMarkup!.inline_keyboard.flat();
    const reject = buttons.find((b) => b.text === 'Reject')!.callback_data!;

    const outsider = await telegram.pressButton({
      chatId: ADMIN_CHAT,
      messageId: card.messageId,
      fromUserId: EVE,
      callbackData: reject,
    });
    expect(telegram.callbackQuery(outsider.update.callback_query!.id)?.answer?.text).toBe(
      'You are not allowed to decide this.',
    );
    expect(world.openclaw.pairings('ca-acme').pending.map((p) => p.requestId)).toEqual([phone.requestId]);

    await telegram.pressButton({
      chatId: ADMIN_CHAT,
      messageId: card.messageId,
      fromUserId: ADA,
      callbackData: reject,
    });
    expect(world.openclaw.pairings('ca-acme').pending).toEqual([]);
    expect(world.openclaw.pairings('ca-acme').paired.map((d) => d.deviceId)).not.toContain(phone.deviceId);
    expect(telegram.message(ADMIN_CHAT, card.messageId)!.text).toMatch(/REJECTED by Ada/);

    // The same button again (the message no longer shows it; a client could still send it).
    const again = await telegram.deliverForged(
      {
        ...outsider.update,
        update_id: outsider.update.update_id + 10_000,
        callback_query: {
          ...outsider.update.callback_query!,
          from: { id: ADA, is_bot: false, first_name: 'Ada' },
        },
      },
      { secretToken: await chat.webhookSecret() },
    );
    expect(again.status).toBe(200);
    const entries = await audit();
    expect(entries).toContainEqual(
      expect.objectContaining({
        updateId: outsider.updateId,
        actor: `telegram:${EVE}`,
        outcome: 'refused',
        reason: `telegram user ${EVE} is not an approver`,
      }),
    );
    expect(entries).toContainEqual(
      expect.objectContaining({
        actor: `telegram:${ADA}`,
        outcome: 'refused',
        updateId: again.updateId,
        slug: 'acme',
        pairingRequestId: phone.requestId,
        reason: expect.stringMatching(/^the button was already used/),
      }),
    );
  });

  it("uses up a pairing's Reject when its Approve was pressed: one question, one answer", async () => {
    const tablet = world.openclaw.requestPairing('ca-acme', { displayName: 'tablet' });
    const card = (await say('/devices acme'))[1]!;
    const buttons = card.replyMarkup!.inline_keyboard.flat();
    const approve = buttons.find((b) => b.text === 'Approve')!.callback_data!;
    const reject = buttons.find((b) => b.text === 'Reject')!.callback_data!;
    const approved = await telegram.pressButton({
      chatId: ADMIN_CHAT,
      messageId: card.messageId,
      fromUserId: ADA,
      callbackData: approve,
    });
    expect(world.openclaw.pairings('ca-acme').paired.map((d) => d.deviceId)).toContain(tablet.deviceId);

    // Brian presses the Reject of the same card (a client that still shows it).
    const late = await telegram.deliverForged(
      {
        ...approved.update,
        update_id: approved.update.update_id + 20_000,
        callback_query: {
          ...approved.update.callback_query!,
          id: `${approved.update.callback_query!.id}-late`,
          from: { id: BRIAN, is_bot: false, first_name: 'Brian' },
          data: reject,
        },
      },
      { secretToken: await chat.webhookSecret() },
    );
    expect(late.status).toBe(200);
    expect(world.openclaw.pairings('ca-acme').paired.map((d) => d.deviceId)).toContain(tablet.deviceId);
    expect(await audit('&slug=acme')).toContainEqual(
      expect.objectContaining({
        actor: `telegram:${BRIAN}`,
        updateId: late.updateId,
        outcome: 'refused',
        pairingRequestId: tablet.requestId,
        reason: expect.stringMatching(new RegExp(`^the button was already used by telegram:${ADA} at `)),
      }),
    );
  });

  it('says so when there is nothing pending', async () => {
    expect((await say('/devices acme')).map((m) => m.text)).toEqual([
      'No pending pairing requests for acme.',
    ]);
  });

  it('keeps the gateway token, the bot token and the webhook secret out of storage, logs and the audit trail', async () => {
    const secrets = world.secretValues();
    expect(secrets).toContain(chat.botToken);
    const places = await world.observableText();
    expect(places.some((p) => p.where.startsWith('table audit'))).toBe(true);
    for (const secret of secrets) {
      expect(places.filter((p) => p.text.includes(secret)).map((p) => p.where)).toEqual([]);
    }
  });
});
