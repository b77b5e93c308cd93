/** A valid version 1 lifecycle request, as a plain object, with overrides. */
export function aRequest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 1,
    requestId: 'req-0001',
    op: 'provision',
    slug: 'acme',
    params: {},
    requestedBy: { kind: 'operator', id: 'alice@example.com' },
    requestedAt: '2026-11-22T08:00:00Z',
    ...overrides,
  };
}
