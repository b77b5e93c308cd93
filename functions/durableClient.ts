import { messageOf } from '../shared/errors.js';

/**
 * The durable client's "no such instance": durable-functions 3.5.0 rejects `getStatus` of an
 * unknown instance with a plain Error, "DurableClient error: Durable Functions extension replied
 * with HTTP 404 response. ..." (lib/src/durableClient/DurableClient.js), and no status property.
 */
export function isDurableNotFound(error: unknown): boolean {
  return /replied with HTTP 404 response/.test(messageOf(error));
}
