import { describe, expect, it } from 'vitest';
import { asWorkerTriggerMetadata } from '../../sandbox/host/triggers/queueTrigger.js';
import { nestedText } from '../support/hostileInputs.js';

describe('queue trigger metadata as the Node worker converts it', () => {
  it('parses a JSON message in queueTrigger and lowers the first letter of every key, at any depth', () => {
    const converted = asWorkerTriggerMetadata({
      id: 'f3c1a2d4-0000-4000-8000-000000000001',
      dequeueCount: 2,
      queueTrigger: '{"RequestId":"r-1","Params":{"Owners":["A"]}}',
    });
    expect(converted).toEqual({
      id: 'f3c1a2d4-0000-4000-8000-000000000001',
      dequeueCount: 2,
      queueTrigger: { requestId: 'r-1', params: { owners: ['A'] } },
    });
  });

  it('keeps text that is not JSON, and dates, as they are', () => {
    const insertionTime = new Date('2026-12-01T09:00:00Z');
    expect(asWorkerTriggerMetadata({ queueTrigger: 'not json', insertionTime })).toEqual({
      queueTrigger: 'not json',
      insertionTime,
    });
  });

  it('overflows on a message nested 12,000 levels deep, as the worker does before any handler runs', () => {
    expect(() => asWorkerTriggerMetadata({ queueTrigger: nestedText(12_000) })).toThrow(RangeError);
  });
});
