import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../sandbox/sim/telegram.js';
import {
  ADA,
  ADMIN_CHAT,
  BRIAN,
  EVE,
  ApprovalWorld,
  OPERATORS,
  signedInAs,
  type AuditEntryView,
} from '../support/approvalWorld.js';
import { touched } from '../support/approvalTestApp.js';
import { aRequest } from '../support/requests.js';

/**
 * Attacks on approvals and mistakes by approvers, each through the real webhook or API on the
 * local host with the simulated Telegram. Every refused attempt leaves the request awaiting
 * approval (or its decision standing), the message as it was, the operation untouched, and an
 * audit entry saying who tried what and why it was refused. Each test uses its own slug, so a
 * request left waiting does not hold up the next one.
 */
let world: ApprovalWorld;

beforeAll(async () => {
  world = await ApprovalWorld.start();
});

afterAll(async () => {
  await world?.stop();
});

/** Asserts that the request still waits, its message is as it was, and nothing was changed. */
async function expectNothingChanged(requestId: string, before: OutboxEntry): Promise<void> {
  expect((await world.request(requestId)).status).toBe('awaiting-approval');
  const now = world.approvalMessage(requestId)!;
  expect({ text: now.text, buttons: now.replyMarkup }).toEqual({
    text: before.text,
    buttons: before.replyMarkup,
  });
  expect(touched).not.toContain(requestId);
}

function refusals(entries: AuditEntryView[], reason: RegExp): AuditEntryView[] {
  return entries.filter((entry) => entry.outcome === 'refused' && reason.test(entry.reason ?? ''));
}

describe('the webhook authenticates Telegram', () => {
  it('refuses an update without the secret token or with a wrong one (401), and audits both', async () => {
    await world.submit('teardown', 'sec-token', 'sec-token-1');
    const before = await world.awaitingApproval('sec-token-1');
    const data = world.buttonData('sec-token-1', 'Approve');
    const missingBefore = refusals(await world.audit(), /^missing secret token$/).length;
    const wrongBefore = refusals(await world.audit(), /^wrong secret token$/).length;

    expect((await world.forgePress({ data, userId: ADA }, null)).status).toBe(401);
    expect((await world.forgePress({ data, userId: ADA }, 'not-the-secret-token')).status).toBe(401);

    await expectNothingChanged('sec-token-1', before);
    const audit = await world.audit();
    expect(refusals(audit, /^missing secret token$/)).toHaveLength(missingBefore + 1);
    expect(refusals(audit, /^wrong secret token$/)).toHaveLength(wrongBefore + 1);
  });

  it('does not write an audit entry per call when flooded with forged calls, and refuses every one', async () => {
    const data = world.buttonData('sec-token-1', 'Approve');
    const wrongBefore = refusals(await world.audit(), /^wrong secret token$/).length;
    for (let i = 0; i < 30; i++) {
      expect((await world.forgePress({ data, userId: ADA }, `forged-${i}`)).status).toBe(401);
    }
    // The first of each kind per minute in full, the rest counted into one entry when the minute ends.
    expect(refusals(await world.audit(), /^wrong secret token$/).length - wrongBefore).toBeLessThanOrEqual(1);
    expect((await world.request('sec-token-1')).status).toBe('awaiting-approval');
  });

  it('answers 400 to malformed and oversized updates, audits them, and keeps serving', async () => {
    const notJson = await world.postRawUpdate('{"update_id": 1, "callback_query": ');
    expect(notJson.status).toBe(400);
    const wrongShape = await world.postRawUpdate(JSON.stringify({ update_id: 'seven', message: 'hi' }));
    expect(wrongShape.status).toBe(400);
    const oversized = await world.postRawUpdate(
      JSON.stringify({
        update_id: 5,
        message: { message_id: 1, chat: { id: 1, type: 'private' }, text: 'x'.repeat(70_000) },
      }),
    );
    expect(oversized.status).toBe(400);

    const audit = await world.audit();
    expect(refusals(audit, /^malformed update: not JSON$/)).not.toHaveLength(0);
    expect(refusals(audit, /^malformed update: update_id/)).not.toHaveLength(0);
    expect(refusals(audit, /^oversized update/)).not.toHaveLength(0);

    // Still serving: a real request and press go through.
    await world.submit('teardown', 'sec-serving', 'sec-serving-1');
    await world.awaitingApproval('sec-serving-1');
    await world.press('sec-serving-1', 'Approve', ADA);
    expect((await world.until('sec-serving-1', ['succeeded', 'rejected', 'failed'])).status).toBe(
      'succeeded',
    );
  });
});

describe('registering the webhook', () => {
  it('refuses to send the webhook secret to an http URL or to a host that is not the app or a configured proxy', async () => {
    const seq = world.lastSeq();
    for (const url of [
      'http://evil.example/hook',
      'https://evil.example/hook',
      'https://user:pw@evil.example/hook',
    ]) {
      const answer = await world.api('POST', '/api/telegram/setup', { url });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        code: 'BadRequest',
        detail: expect.stringMatching(/^the webhook URL/),
      });
    }
    expect(world.requests(seq).filter((entry) => entry.path.includes('setWebhook'))).toEqual([]);
  });
});

describe('only approvers in the admin chat decide', () => {
  it('does not write an audit entry per stray command from people who may not act, and still serves approvers', async () => {
    const fromEve = async () =>
      (await world.audit()).filter(
        (entry) => entry.actor === `telegram:${EVE}` && entry.action === 'command /envs',
      ).length;
    const before = await fromEve();
    for (let i = 0; i < 20; i++) {
      const delivery = await world.telegram.sendUserMessage({
        chatId: ADMIN_CHAT,
        fromUserId: EVE,
        text: '/envs',
      });
      expect(delivery.status).toBe(200);
    }
    // The first of the minute in full; the rest counted into one entry when the minute ends.
    expect((await fromEve()) - before).toBeLessThanOrEqual(1);
    const outbox = world.telegram.outbox(ADMIN_CHAT).length;
    await world.telegram.sendUserMessage({ chatId: ADMIN_CHAT, fromUserId: ADA, text: '/envs' });
    expect(world.telegram.outbox(ADMIN_CHAT).length).toBe(outbox + 1);
  });

  it('refuses a press by someone who is not an approver, without using up the button', async () => {
    await world.submit('teardown', 'sec-outsider', 'sec-outsider-1');
    const before = await world.awaitingApproval('sec-outsider-1');
    const delivery = await world.press('sec-outsider-1', 'Approve', EVE);
    expect(delivery.status).toBe(200);
    expect(world.telegram.callbackQuery(delivery.update.callback_query!.id)).toMatchObject({
      answered: true,
      answer: { text: 'You are not allowed to decide this.' },
    });
    await expectNothingChanged('sec-outsider-1', before);
    expect(await world.audit()).toContainEqual(
      expect.objectContaining({
        channel: 'telegram',
        actor: `telegram:${EVE}`,
        actorName: 'Eve',
        outcome: 'refused',
        reason: `telegram user ${EVE} is not an approver`,
        updateId: delivery.updateId,
      }),
    );

    await world.press('sec-outsider-1', 'Approve', ADA);
    expect((await world.until('sec-outsider-1', ['succeeded', 'rejected', 'failed'])).status).toBe(
      'succeeded',
    );
  });

  it('refuses an approver pressing the button in another chat than the admin chat', async () => {
    await world.submit('teardown', 'sec-chat', 'sec-chat-1');
    const before = await world.awaitingApproval('sec-chat-1');
    const delivery = await world.forgePress({
      data: world.buttonData('sec-chat-1', 'Approve'),
      userId: ADA,
      chatId: ADA,
    });
    expect(delivery.status).toBe(200);
    await expectNothingChanged('sec-chat-1', before);
    expect(refusals(await world.audit(), new RegExp(`^chat ${ADA} is not the admin chat$`))).toContainEqual(
      expect.objectContaining({ actor: `telegram:${ADA}`, updateId: delivery.updateId }),
    );
  });

  it('refuses button data that is not one of its nonces', async () => {
    const delivery = await world.forgePress({ data: 'approve:sec-chat-1', userId: ADA });
    expect(delivery.status).toBe(200);
    expect(refusals(await world.audit(), /^the button data is not a broker nonce$/)).toContainEqual(
      expect.objectContaining({ updateId: delivery.updateId }),
    );
    expect((await world.request('sec-chat-1')).status).toBe('awaiting-approval');
  });
});

describe('a button works once, while its approval is pending', () => {
  it('refuses the same button pressed twice, and ignores a replayed update', async () => {
    await world.submit('teardown', 'sec-twice', 'sec-twice-1');
    await world.awaitingApproval('sec-twice-1');
    const data = world.buttonData('sec-twice-1', 'Approve');
    const first = await world.press('sec-twice-1', 'Approve', ADA);
    await world.until('sec-twice-1', ['succeeded']);
    const decided = world.approvalMessage('sec-twice-1')!;

    const again = await world.forgePress({ data, userId: BRIAN });
    expect(again.status).toBe(200);
    const replay = await world.telegram.replayUpdate(first.updateId);
    expect(replay.status).toBe(200);

    expect(touched.filter((id) => id === 'sec-twice-1')).toHaveLength(1);
    expect((await world.request('sec-twice-1')).status).toBe('succeeded');
    expect(world.approvalMessage('sec-twice-1')).toEqual(decided);
    const audit = await world.audit();
    expect(refusals(audit, new RegExp(`^the button was already used by telegram:${ADA} at `))).toContainEqual(
      expect.objectContaining({
        actor: `telegram:${BRIAN}`,
        requestId: 'sec-twice-1',
        updateId: again.updateId,
      }),
    );
    expect(audit).toContainEqual(
      expect.objectContaining({
        outcome: 'ignored',
        actor: `telegram:${ADA}`,
        updateId: first.updateId,
        reason: `update ${first.updateId} was already handled (replayed or redelivered)`,
      }),
    );
  });

  it('refuses a button of an approval that expired', async () => {
    await world.submit('teardown', 'sec-expired', 'sec-expired-1');
    await world.awaitingApproval('sec-expired-1');
    const data = world.buttonData('sec-expired-1', 'Approve');
    await world.clock.advance(25 * 3_600_000);
    expect((await world.until('sec-expired-1', ['rejected', 'succeeded', 'failed'])).status).toBe('rejected');

    const delivery = await world.forgePress({ data, userId: ADA });
    expect(delivery.status).toBe(200);
    expect((await world.request('sec-expired-1')).status).toBe('rejected');
    expect(touched).not.toContain('sec-expired-1');
    expect(refusals(await world.audit('&requestId=sec-expired-1'), /expired/)).toContainEqual(
      expect.objectContaining({ actor: `telegram:${ADA}`, updateId: delivery.updateId }),
    );
  });

  it('refuses a button whose request was already decided and whose instance finished', async () => {
    await world.submit('teardown', 'sec-finished', 'sec-finished-1');
    await world.awaitingApproval('sec-finished-1');
    const data = world.buttonData('sec-finished-1', 'Approve');
    const decided = await world.api(
      'POST',
      '/api/requests/sec-finished-1/reject',
      {},
      signedInAs('bob@example.com'),
    );
    expect(decided.status).toBe(200);
    await world.until('sec-finished-1', ['rejected']);
    expect(world.host.getStatus('approval:sec-finished-1')?.runtimeStatus).toBe('Completed');

    const delivery = await world.forgePress({ data, userId: ADA });
    expect(delivery.status).toBe(200);
    expect((await world.request('sec-finished-1')).status).toBe('rejected');
    expect(touched).not.toContain('sec-finished-1');
    expect(
      refusals(await world.audit('&requestId=sec-finished-1'), /^already rejected by bob@example.com at /),
    ).toContainEqual(expect.objectContaining({ actor: `telegram:${ADA}`, updateId: delivery.updateId }));
  });
});

describe('the approval policy', () => {
  it('refuses the requester approving their own teardown through the API, then lets another operator', async () => {
    await world.submit('teardown', 'sec-self', 'sec-self-1', 'alice@example.com');
    const before = await world.awaitingApproval('sec-self-1');
    const own = await world.api(
      'POST',
      '/api/requests/sec-self-1/approve',
      {},
      signedInAs('alice@example.com'),
    );
    expect(own.status).toBe(403);
    expect(own.body).toMatchObject({ code: 'ApprovalForbidden' });
    await expectNothingChanged('sec-self-1', before);
    expect(
      refusals(
        await world.audit('&requestId=sec-self-1'),
        /^the requester may not approve their own teardown/,
      ),
    ).toContainEqual(
      expect.objectContaining({
        channel: 'api',
        actor: `operator:${OPERATORS['alice@example.com'].objectId}`,
        action: 'approve',
      }),
    );

    const other = await world.api(
      'POST',
      '/api/requests/sec-self-1/approve',
      {},
      signedInAs('bob@example.com'),
    );
    expect(other.status).toBe(200);
    expect((await world.until('sec-self-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });

  it('refuses a Telegram approver approving the teardown they asked for from chat, without using up the button', async () => {
    await world.host.enqueue(
      'lifecycle-requests',
      JSON.stringify(
        aRequest({
          requestId: 'sec-self-2',
          op: 'teardown',
          slug: 'sec-self-chat',
          params: {},
          requestedBy: { kind: 'chat', id: String(ADA) },
          requestedAt: new Date().toISOString(),
        }),
      ),
    );
    const before = await world.awaitingApproval('sec-self-2');
    // Who asked is only what the queue message declared, and the message says so; the check holds all the same.
    expect(before.text).toContain(`Requested by telegram ${ADA} (as declared by the queue message)`);
    const own = await world.press('sec-self-2', 'Approve', ADA);
    expect(world.telegram.callbackQuery(own.update.callback_query!.id)?.answer?.text).toMatch(
      /^Refused: the requester may not approve their own teardown/,
    );
    await expectNothingChanged('sec-self-2', before);
    expect(
      refusals(await world.audit('&requestId=sec-self-2'), /^the requester may not approve/),
    ).toContainEqual(expect.objectContaining({ actor: `telegram:${ADA}`, updateId: own.updateId }));

    await world.press('sec-self-2', 'Approve', BRIAN);
    expect(await world.until('sec-self-2', ['succeeded', 'rejected', 'failed'])).toMatchObject({
      status: 'succeeded',
      summary: `approved by ${BRIAN}`,
    });
  });

  it('needs two different approvers for an upgrade: the first vote waits, the same person cannot vote twice, old buttons are dead', async () => {
    await world.submit('upgrade', 'sec-multi', 'sec-multi-1');
    const asked = await world.awaitingApproval('sec-multi-1');
    expect(asked.text).toContain('Needs 2 different approvers.');
    const firstData = world.buttonData('sec-multi-1', 'Approve');

    await world.press('sec-multi-1', 'Approve', ADA);
    const partly = world.approvalMessage('sec-multi-1')!;
    expect(partly.text).toContain(`Approved by Ada (telegram ${ADA})`);
    expect(partly.text).toContain('1 of 2 approvals; waiting for another approver.');
    expect(world.buttonData('sec-multi-1', 'Approve')).not.toBe(firstData);
    expect((await world.request('sec-multi-1')).status).toBe('awaiting-approval');

    const twice = await world.press('sec-multi-1', 'Approve', ADA);
    expect(world.telegram.callbackQuery(twice.update.callback_query!.id)?.answer?.text).toMatch(
      /^Refused: already approved by Ada/,
    );
    const stale = await world.forgePress({ data: firstData, userId: BRIAN });
    expect(stale.status).toBe(200);
    await expectNothingChanged('sec-multi-1', partly);
    const audit = await world.audit('&requestId=sec-multi-1');
    expect(refusals(audit, /^already approved by Ada/)).toHaveLength(1);
    expect(refusals(audit, /^the button was already used/)).toContainEqual(
      expect.objectContaining({ actor: `telegram:${BRIAN}`, updateId: stale.updateId }),
    );

    await world.press('sec-multi-1', 'Approve', BRIAN);
    expect(await world.until('sec-multi-1', ['succeeded', 'rejected', 'failed'])).toMatchObject({
      status: 'succeeded',
      summary: `approved by ${ADA}, ${BRIAN}`,
    });
    expect(world.approvalMessage('sec-multi-1')!.text).toMatch(/APPROVED at \S+; the upgrade goes ahead/);
  });

  it('ignores a decision event raised around the broker that the policy does not allow, and keeps waiting', async () => {
    await world.submit('teardown', 'sec-event', 'sec-event-1');
    const before = await world.awaitingApproval('sec-event-1');
    // Someone with the host's system key raises an approval that no approver gave.
    const forged = {
      requestId: 'sec-event-1',
      outcome: 'approved',
      decidedAt: new Date().toISOString(),
      decidedBy: { kind: 'operator', id: 'mallory' },
      approvals: [],
      policy: { approvers: 1, requesterMayApprove: false },
      requestedBy: { kind: 'operator', id: 'alice@example.com' },
    };
    const raised = await fetch(
      `${world.host.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent('approval:sec-event-1')}/raiseEvent/approvalDecision?code=${world.host.systemKey}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) },
    );
    expect(raised.status).toBe(202);
    await world.host.waitForIdle();
    expect(world.host.timeline('approval:sec-event-1').map((entry) => entry.eventType)).toContain(
      'EventRaised',
    );
    await expectNothingChanged('sec-event-1', before);
    expect(world.host.getStatus('approval:sec-event-1')?.runtimeStatus).toBe('Running');

    await world.press('sec-event-1', 'Approve', ADA);
    expect(await world.until('sec-event-1', ['succeeded', 'rejected', 'failed'])).toMatchObject({
      status: 'succeeded',
      summary: `approved by ${ADA}`,
    });
  });

  it('acts on the approval record, not on the event: a forged event that meets the policy decides nothing', async () => {
    await world.submit('teardown', 'sec-forged', 'sec-forged-1');
    const before = await world.awaitingApproval('sec-forged-1');
    const at = new Date().toISOString();
    // Everything the policy checks holds in the payload itself: one approver, not the requester.
    const forged = {
      requestId: 'sec-forged-1',
      outcome: 'approved',
      decidedAt: at,
      decidedBy: { kind: 'operator', id: 'mallory' },
      approvals: [{ by: { kind: 'operator', id: 'mallory' }, at, via: 'api' }],
      policy: { approvers: 1, requesterMayApprove: false },
      requestedBy: { kind: 'operator', id: OPERATORS['alice@example.com'].objectId },
    };
    const raised = await fetch(
      `${world.host.baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent('approval:sec-forged-1')}/raiseEvent/approvalDecision?code=${world.host.systemKey}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) },
    );
    expect(raised.status).toBe(202);
    await world.host.waitForIdle();
    await expectNothingChanged('sec-forged-1', before);
    expect(world.host.getStatus('approval:sec-forged-1')?.runtimeStatus).toBe('Running');
    expect(
      (await world.audit('&requestId=sec-forged-1')).filter((entry) => entry.outcome === 'approved'),
    ).toEqual([]);

    // A real approval still goes through, and the result names the real approver.
    await world.press('sec-forged-1', 'Approve', ADA);
    expect(await world.until('sec-forged-1', ['succeeded', 'rejected', 'failed'])).toMatchObject({
      status: 'succeeded',
      summary: `approved by ${ADA}`,
    });
  });

  it("serves the Durable management API's local path only with the system key", async () => {
    await world.submit('teardown', 'sec-rpc', 'sec-rpc-1');
    const before = await world.awaitingApproval('sec-rpc-1');
    const path = `/durabletask/instances/${encodeURIComponent('approval:sec-rpc-1')}/raiseEvent/approvalDecision`;
    const body = JSON.stringify({ requestId: 'sec-rpc-1', outcome: 'rejected' });
    const headers = { 'content-type': 'application/json' };
    const without = await fetch(`${world.host.baseUrl}${path}`, { method: 'POST', headers, body });
    expect(without.status).toBe(401);
    const wrong = await fetch(`${world.host.baseUrl}${path}?code=${world.host.functionKey}`, {
      method: 'POST',
      headers,
      body,
    });
    expect(wrong.status).toBe(401);
    expect((await fetch(`${world.host.baseUrl}/durabletask/instances`)).status).toBe(401);
    await world.host.waitForIdle();
    await expectNothingChanged('sec-rpc-1', before);
    expect(world.host.timeline('approval:sec-rpc-1').map((entry) => entry.eventType)).not.toContain(
      'EventRaised',
    );
  });
});
