import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../sandbox/sim/telegram.js';
import { ADA, BRIAN, ApprovalWorld, OPERATORS, signedInAs } from '../support/approvalWorld.js';
import { touched } from '../support/approvalTestApp.js';

/**
 * Operators behind App Service authentication (emulated by the local host as configured in the
 * Bicep: Entra ID, authentication required, the Telegram webhook excluded). The platform decides
 * who calls; the broker decides who may approve (OPERATOR_APPROVER_IDS: alice and bob; the group
 * in OPERATOR_APPROVER_GROUP_IDS: dave) and counts each person once across channels: Brian's
 * Telegram account is bob's (IDENTITY_LINKS).
 */
let world: ApprovalWorld;
const BOB = OPERATORS['bob@example.com'];
const CAROL = OPERATORS['carol@example.com'];

beforeAll(async () => {
  world = await ApprovalWorld.start({ IDENTITY_LINKS: `${BRIAN}=${BOB.objectId}` });
});

afterAll(async () => {
  await world?.stop();
});

async function expectNothingChanged(requestId: string, before: OutboxEntry): Promise<void> {
  expect((await world.request(requestId)).status).toBe('awaiting-approval');
  const now = world.approvalMessage(requestId)!;
  expect({ text: now.text, buttons: now.replyMarkup }).toEqual({
    text: before.text,
    buttons: before.replyMarkup,
  });
  expect(touched).not.toContain(requestId);
}

describe('who the caller is comes from the platform', () => {
  it('refuses a call without a token before the broker sees it, and a written principal header loses to the signed-in one', async () => {
    await world.submit('teardown', 'ea-spoof', 'ea-spoof-1');
    const before = await world.awaitingApproval('ea-spoof-1');
    const anonymous = await fetch(`${world.host.baseUrl}/api/requests/ea-spoof-1/approve`, {
      method: 'POST',
      headers: {
        'x-functions-key': world.host.functionKey,
        'x-ms-client-principal-name': 'bob@example.com',
        'x-ms-client-principal-id': BOB.objectId,
      },
    });
    expect(anonymous.status).toBe(401);

    // Carol signs in and writes bob's principal headers: the platform replaces them with hers.
    const spoofed = await world.api(
      'POST',
      '/api/requests/ea-spoof-1/approve',
      {},
      {
        ...signedInAs('carol@example.com'),
        'x-ms-client-principal-name': 'bob@example.com',
        'x-ms-client-principal-id': BOB.objectId,
      },
    );
    expect(spoofed.status).toBe(403);
    expect(spoofed.body).toMatchObject({
      code: 'ApprovalForbidden',
      detail: `operator carol@example.com (${CAROL.objectId}) is not an approver (OPERATOR_APPROVER_IDS, OPERATOR_APPROVER_GROUP_IDS)`,
    });
    await expectNothingChanged('ea-spoof-1', before);
    expect(await world.audit('&requestId=ea-spoof-1')).toContainEqual(
      expect.objectContaining({ actor: `operator:${CAROL.objectId}`, outcome: 'refused' }),
    );
  });

  it('lets an operator approve through the group the allow-list names', async () => {
    const approved = await world.api(
      'POST',
      '/api/requests/ea-spoof-1/approve',
      {},
      signedInAs('dave@example.com'),
    );
    expect(approved.status).toBe(200);
    expect((await world.until('ea-spoof-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });

  it('takes the requester from the caller: a request submitted by carol is hers, whatever the body says', async () => {
    const answer = await world.api(
      'POST',
      '/api/requests',
      {
        op: 'teardown',
        slug: 'ea-body',
        requestId: 'ea-body-1',
        requestedBy: { kind: 'operator', id: BOB.objectId },
      },
      signedInAs('carol@example.com'),
    );
    expect(answer.status).toBe(400);
    await world.submit('teardown', 'ea-body', 'ea-body-2', 'carol@example.com');
    expect((await world.request('ea-body-2')) as unknown).toMatchObject({
      requestedBy: { kind: 'operator', id: CAROL.objectId },
    });
    await world.awaitingApproval('ea-body-2');
    await world.press('ea-body-2', 'Reject', ADA);
    await world.until('ea-body-2', ['rejected']);
  });
});

describe('one person counts once, across channels', () => {
  it('does not let one caller meet a two-approver policy by writing two names', async () => {
    await world.submit('upgrade', 'ea-twice', 'ea-twice-1', 'alice@example.com');
    await world.awaitingApproval('ea-twice-1');
    const first = await world.api(
      'POST',
      '/api/requests/ea-twice-1/approve',
      {},
      signedInAs('bob@example.com'),
    );
    expect(first.status).toBe(202);
    const partly = world.approvalMessage('ea-twice-1')!;
    const second = await world.api(
      'POST',
      '/api/requests/ea-twice-1/approve',
      {},
      { ...signedInAs('bob@example.com'), 'x-ms-client-principal-name': 'someone-else@example.com' },
    );
    expect(second.status).toBe(403);
    expect(second.body).toMatchObject({
      detail: expect.stringMatching(/^already approved by bob@example.com/),
    });
    await expectNothingChanged('ea-twice-1', partly);
  });

  it("does not count bob's Telegram account as a second approver after bob approved through the API", async () => {
    const partly = world.approvalMessage('ea-twice-1')!;
    const press = await world.press('ea-twice-1', 'Approve', BRIAN);
    expect(world.telegram.callbackQuery(press.update.callback_query!.id)?.answer?.text).toMatch(
      /^Refused: already approved by bob@example.com/,
    );
    await expectNothingChanged('ea-twice-1', partly);

    await world.press('ea-twice-1', 'Approve', ADA);
    expect((await world.until('ea-twice-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });

  it('does not let bob approve his own teardown from his Telegram account', async () => {
    await world.submit('teardown', 'ea-self', 'ea-self-1', 'bob@example.com');
    const before = await world.awaitingApproval('ea-self-1');
    const press = await world.press('ea-self-1', 'Approve', BRIAN);
    expect(world.telegram.callbackQuery(press.update.callback_query!.id)?.answer?.text).toMatch(
      /^Refused: the requester may not approve their own teardown/,
    );
    await expectNothingChanged('ea-self-1', before);

    await world.press('ea-self-1', 'Approve', ADA);
    expect((await world.until('ea-self-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });
});
