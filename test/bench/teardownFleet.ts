/**
 * Tears a provisioned fleet down the way an operator would: one teardown request per slug through
 * the HTTP API, each approved from the admin chat by an approver (Ada) as soon as its approval
 * message appears, then waits for every outcome. Returns the wall milliseconds from the first
 * request to the last outcome, and from the last approval to the last outcome.
 */
import { SANDBOX_TELEGRAM } from '../../sandbox/world.js';
import type { ProvisionWorld } from '../scenario/provisionWorld.js';

export async function teardownFleet(
  world: ProvisionWorld,
  slugs: string[],
  timeoutMs: number,
): Promise<{ elapsedMs: number; afterApprovalMs: number }> {
  const started = Date.now();
  let lastApproval = started;
  await Promise.all(
    slugs.map(async (slug) => {
      const requestId = `bench-td-${slug}`;
      const answer = await world.api('POST', '/api/requests', {
        op: 'teardown',
        slug,
        requestId,
        params: { reason: 'bench' },
      });
      if (answer.status !== 202)
        throw new Error(`teardown of ${slug} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      await world.until(
        requestId,
        (view) => view.status === 'awaiting-approval',
        'awaiting-approval',
        timeoutMs,
      );
      const message = await approvalMessage(world, requestId, timeoutMs);
      const approve = message.replyMarkup?.inline_keyboard.flat().find((button) => button.text === 'Approve');
      if (!approve?.callback_data)
        throw new Error(`the approval message for ${requestId} has no Approve button`);
      let delivery = await world.telegram.pressButton({
        chatId: message.chatId,
        messageId: message.messageId,
        fromUserId: SANDBOX_TELEGRAM.approvers[0].id,
        callbackData: approve.callback_data,
      });
      // Telegram redelivers an update the webhook did not take (a busy host can time out).
      for (let attempt = 1; delivery.status !== 200 && attempt < 5; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
        delivery = await world.telegram.replayUpdate(delivery.updateId);
      }
      if (delivery.status !== 200)
        throw new Error(`approving ${requestId}: webhook answered ${delivery.status ?? delivery.error}`);
      lastApproval = Math.max(lastApproval, Date.now());
    }),
  );
  const outcomes = await Promise.all(slugs.map((slug) => world.untilFinished(`bench-td-${slug}`, timeoutMs)));
  const failed = outcomes.filter((outcome) => outcome.status !== 'succeeded');
  if (failed.length > 0)
    throw new Error(
      `${failed.length} teardowns did not succeed: ${failed[0]?.status} ${failed[0]?.reason ?? ''}`,
    );
  const ended = Date.now();
  return { elapsedMs: ended - started, afterApprovalMs: ended - lastApproval };
}

async function approvalMessage(world: ProvisionWorld, requestId: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = world.telegram
      .outbox(SANDBOX_TELEGRAM.adminChatId)
      .filter((entry) => entry.text.includes(`(request ${requestId})`) && entry.replyMarkup)
      .at(-1);
    if (message) return message;
    if (Date.now() > deadline) throw new Error(`no approval message for ${requestId}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
