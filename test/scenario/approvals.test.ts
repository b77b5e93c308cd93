import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import {
  ADA,
  ADMIN_CHAT,
  ApprovalWorld,
  OPERATORS,
  poll,
  signedInAs,
  tokenOf,
} from '../support/approvalWorld.js';
import { touched } from '../support/approvalTestApp.js';

/**
 * Approvals end to end: a request for an operation that needs approval (the test double of
 * teardown and upgrade in test/support/approvalTestApp.ts, which calls the broker's approval
 * sub-orchestration), the message in the simulated admin chat, the press, the webhook, the
 * decision event, the operation going ahead or not. On the local host with a ManualClock, so the
 * deadline passes only when a test advances it.
 */
let world: ApprovalWorld;

beforeAll(async () => {
  world = await ApprovalWorld.start();
});

afterAll(async () => {
  await world?.stop();
});

const DAY_MS = 24 * 3_600_000;
const BOB_ID = OPERATORS['bob@example.com'].objectId;

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    [
      '--url',
      world.host.baseUrl,
      '--key',
      world.host.functionKey,
      '--token',
      tokenOf('bob@example.com'),
      ...args,
    ],
    {
      out: (text) => out.push(text),
      err: (text) => err.push(text),
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 25))),
      env: {},
    },
  );
  return { code, out, err };
}

describe('approving from the admin chat', () => {
  it('asks the admin chat what will happen, shows awaiting-approval, and Approve lets the operation go ahead', async () => {
    await world.submit('teardown', 'acme', 'appr-approve-1');
    const asked = await world.awaitingApproval('appr-approve-1');
    expect(asked.chatId).toBe(ADMIN_CHAT);
    expect(asked.text).toContain('Approval needed: teardown of acme');
    // The requester is who Easy Auth signed in: their object id, never a name the caller wrote.
    expect(asked.text).toContain(`Requested by ${OPERATORS['alice@example.com'].objectId}`);
    expect(asked.text).toContain('deletes resource group claw-acme');
    expect(asked.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(['Approve', 'Reject']);
    for (const button of asked.replyMarkup!.inline_keyboard.flat()) {
      expect(Buffer.byteLength(button.callback_data!)).toBeLessThanOrEqual(64);
      expect(button.callback_data).not.toContain('appr-approve-1');
    }

    const delivery = await world.press('appr-approve-1', 'Approve', ADA);
    expect(delivery.status).toBe(200);
    expect(world.telegram.callbackQuery(delivery.update.callback_query!.id)).toMatchObject({
      answered: true,
    });

    expect(await world.until('appr-approve-1', ['succeeded', 'failed', 'rejected'])).toMatchObject({
      status: 'succeeded',
      summary: `approved by ${ADA}`,
    });
    expect(touched).toContain('appr-approve-1');
    const shown = world.approvalMessage('appr-approve-1')!;
    expect(shown.text).toMatch(/APPROVED at \S+/);
    expect(shown.text).toContain(`Approved by Ada (telegram ${ADA})`);
    expect(shown.replyMarkup).toBeUndefined();
  });

  it('cancels the deadline timer when the decision arrives, so the approval completes without time passing', async () => {
    await world.submit('teardown', 'acme', 'appr-timer-1');
    await world.awaitingApproval('appr-timer-1');
    await world.press('appr-timer-1', 'Approve', ADA);
    await world.until('appr-timer-1', ['succeeded']);
    // The host keeps an instance with an uncancelled timer Running until it fires, as Azure does;
    // the clock has not moved, so Completed means the timer was cancelled.
    const status = await poll(
      async () => world.host.getStatus('approval:appr-timer-1'),
      (s) => s?.runtimeStatus === 'Completed',
      () => 'the approval instance did not complete',
    );
    expect(status?.output).toMatchObject({
      outcome: 'approved',
      decidedBy: { kind: 'telegram', id: String(ADA) },
    });
    const events = world.host.timeline('approval:appr-timer-1').map((entry) => entry.eventType);
    expect(events).toContain('TimerCreated');
    expect(events).not.toContain('TimerFired');
  });

  it('rejects the request when an approver presses Reject, and the operation changes nothing', async () => {
    await world.submit('teardown', 'acme', 'appr-reject-1');
    await world.awaitingApproval('appr-reject-1');
    await world.press('appr-reject-1', 'Reject', ADA);
    const view = await world.until('appr-reject-1', ['succeeded', 'failed', 'rejected']);
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(new RegExp(`^rejected by Ada \\(telegram ${ADA}\\) at \\S+$`));
    expect(touched).not.toContain('appr-reject-1');
    const shown = world.approvalMessage('appr-reject-1')!;
    expect(shown.text).toContain(`REJECTED by Ada (telegram ${ADA})`);
    expect(shown.replyMarkup).toBeUndefined();
  });

  it('rejects the request once the deadline passes with no decision, and the message says it expired', async () => {
    await world.submit('teardown', 'acme', 'appr-expire-1');
    await world.awaitingApproval('appr-expire-1');
    await world.clock.advance(DAY_MS - 60_000);
    expect((await world.request('appr-expire-1')).status).toBe('awaiting-approval');

    await world.clock.advance(2 * 60_000);
    const view = await world.until('appr-expire-1', ['succeeded', 'failed', 'rejected']);
    expect(view.status).toBe('rejected');
    expect(view.reason).toMatch(/^approval expired at \S+ with no decision$/);
    expect(touched).not.toContain('appr-expire-1');
    const shown = world.approvalMessage('appr-expire-1')!;
    expect(shown.text).toMatch(/EXPIRED at \S+ with no decision: rejected; nothing was changed/);
    expect(shown.replyMarkup).toBeUndefined();
    expect(await world.audit('&requestId=appr-expire-1')).toContainEqual(
      expect.objectContaining({ action: 'expire', outcome: 'expired', actor: 'system:deadline' }),
    );
  });
});

describe('operators deciding through the HTTP API and the CLI', () => {
  it('approves through POST /api/requests/{id}/approve as the operator Entra names, and the message shows it', async () => {
    await world.submit('teardown', 'acme', 'appr-api-1');
    await world.awaitingApproval('appr-api-1');
    const answer = await world.api(
      'POST',
      '/api/requests/appr-api-1/approve',
      {},
      signedInAs('bob@example.com'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      approval: 'approved',
      decidedBy: { kind: 'operator', id: OPERATORS['bob@example.com'].objectId, name: 'bob@example.com' },
    });
    expect(await world.until('appr-api-1', ['succeeded', 'failed', 'rejected'])).toMatchObject({
      status: 'succeeded',
    });
    expect(touched).toContain('appr-api-1');
    expect(world.approvalMessage('appr-api-1')!.text).toContain('Approved by bob@example.com');
  });

  it('rejects through POST /api/requests/{id}/reject', async () => {
    await world.submit('teardown', 'acme', 'appr-api-2');
    await world.awaitingApproval('appr-api-2');
    const answer = await world.api(
      'POST',
      '/api/requests/appr-api-2/reject',
      {},
      signedInAs('bob@example.com'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ approval: 'rejected' });
    expect(await world.until('appr-api-2', ['succeeded', 'failed', 'rejected'])).toMatchObject({
      status: 'rejected',
      reason: expect.stringMatching(/^rejected by bob@example.com at /),
    });
    expect(touched).not.toContain('appr-api-2');
  });

  it('answers 409 for a request that is not awaiting approval and 404 for an unknown one', async () => {
    const decided = await world.api(
      'POST',
      '/api/requests/appr-api-2/approve',
      {},
      signedInAs('bob@example.com'),
    );
    expect(decided.status).toBe(409);
    expect(decided.body).toMatchObject({
      code: 'ApprovalNotPending',
      detail: expect.stringMatching(/^already rejected by bob@example.com/),
    });
    const unknown = await world.api(
      'POST',
      '/api/requests/appr-nobody/approve',
      {},
      signedInAs('bob@example.com'),
    );
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'NotFound' });
  });

  it('approves and rejects with claw-broker approve|reject, and lists the audit trail with claw-broker audit', async () => {
    await world.submit('teardown', 'acme', 'appr-cli-1');
    await world.awaitingApproval('appr-cli-1');
    const approved = await cli('approve', 'appr-cli-1');
    expect(approved.code).toBe(0);
    expect(approved.out.join('\n')).toMatch(/^appr-cli-1: approved by bob@example.com at \S+$/);
    expect(await world.until('appr-cli-1', ['succeeded', 'failed', 'rejected'])).toMatchObject({
      status: 'succeeded',
    });

    await world.submit('teardown', 'acme', 'appr-cli-2');
    await world.awaitingApproval('appr-cli-2');
    const rejected = await cli('reject', 'appr-cli-2');
    expect(rejected.code).toBe(0);
    expect(await world.until('appr-cli-2', ['succeeded', 'failed', 'rejected'])).toMatchObject({
      status: 'rejected',
    });
    expect(touched).not.toContain('appr-cli-2');

    const again = await cli('approve', 'appr-cli-2');
    expect(again.code).toBe(1);
    expect(again.err.join('\n')).toContain('ApprovalNotPending');

    const audit = await cli('audit', '--request-id', 'appr-cli-2');
    expect(audit.code).toBe(0);
    const listing = audit.out.join('\n');
    expect(listing).toMatch(
      new RegExp(`api\\s+operator:${BOB_ID}\\s+approve\\s+refused\\s+appr-cli-2\\s+already rejected`),
    );
    expect(listing).toMatch(new RegExp(`api\\s+operator:${BOB_ID}\\s+reject\\s+rejected\\s+appr-cli-2`));
    expect(listing).toMatch(/system\s+system:approvals\s+open\s+requested\s+appr-cli-2/);
  });
});

describe('secrets in the approval flow', () => {
  it('keeps the bot token and the webhook secret out of storage, histories, custom status, the audit trail and logs', async () => {
    const secrets = [world.botToken(), world.webhookSecret()];
    const places = [
      ...(await world.observableText()),
      ...['appr-approve-1', 'appr-reject-1', 'appr-expire-1', 'appr-api-1'].flatMap((id) => [
        world.instanceText(`approval:${id}`),
        world.instanceText(`op:${id}`),
      ]),
    ];
    expect(places.some((place) => place.where.startsWith('table audit'))).toBe(true);
    expect(places.some((place) => place.where.startsWith('blob clawapprovals'))).toBe(true);
    for (const secret of secrets) {
      const leaks = places.filter((place) => place.text.includes(secret)).map((place) => place.where);
      expect(leaks).toEqual([]);
    }
  });
});
