import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADA, ADMIN_CHAT, ApprovalWorld } from '../support/approvalWorld.js';
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

describe('approving from the admin chat', () => {
  it('asks the admin chat, and pressing Approve lets the operation go ahead', async () => {
    await world.submit('teardown', 'acme', 'appr-approve-1');
    const asked = await world.awaitingApproval('appr-approve-1');
    expect(asked.chatId).toBe(ADMIN_CHAT);
    expect(asked.text).toContain('Approval needed: teardown of acme');
    expect(asked.text).toContain('Requested by alice@example.com');
    expect(asked.text).toContain('deletes resource group claw-acme');
    expect(asked.replyMarkup?.inline_keyboard.flat().map((b) => b.text)).toEqual(['Approve', 'Reject']);

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
});
