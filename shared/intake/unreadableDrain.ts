import type { QueueClient } from '@azure/storage-queue';
import type { IntakeMessage, IntakeOutcome } from './intakeService.js';
import { hasStatus } from '../azure/azureErrors.js';

/** How long a drained message stays invisible while it is recorded; on a failure it comes back. */
const DRAIN_VISIBILITY_SECONDS = 300;

/** At most this many messages per run (a run stays short; the next run takes the rest). */
export const DRAIN_MAX_MESSAGES_PER_RUN = 320;

export interface UnreadableDrainOptions {
  maxMessages?: number;
}

/**
 * Records every message in the unreadable queue (`lifecycle-requests-poison-poison`) and deletes
 * it once recorded. Reads with the storage SDK, not through a trigger: a message lands there
 * because the Functions worker could not hand it to a handler, so another trigger would fail on it
 * the same way. A message is deleted only after it was recorded; if recording fails it becomes
 * visible again and the next run retries it, so nothing is lost (within the queue's message TTL).
 * Returns how many were recorded.
 */
export async function drainUnreadableMessages(
  queue: QueueClient,
  intake: { recordUnreadable(message: IntakeMessage): Promise<IntakeOutcome> },
  options: UnreadableDrainOptions = {},
): Promise<number> {
  const max = options.maxMessages ?? DRAIN_MAX_MESSAGES_PER_RUN;
  let recorded = 0;
  while (recorded < max) {
    let batch;
    try {
      batch = await queue.receiveMessages({
        numberOfMessages: Math.min(32, max - recorded),
        visibilityTimeout: DRAIN_VISIBILITY_SECONDS,
      });
    } catch (error) {
      if (hasStatus(error, 404)) return recorded; // the host never moved anything there
      throw error;
    }
    if (batch.receivedMessageItems.length === 0) break;
    for (const message of batch.receivedMessageItems) {
      await intake.recordUnreadable({
        // host.json messageEncoding "none": the text is the message as it was sent.
        text: message.messageText,
        messageId: message.messageId,
        dequeueCount: message.dequeueCount,
        receivedAt: message.insertedOn.toISOString(),
      });
      await queue.deleteMessage(message.messageId, message.popReceipt);
      recorded += 1;
    }
  }
  return recorded;
}
