import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main.js';
import { SANDBOX_OPERATOR } from '../../sandbox/world.js';
import { ADA, ApprovalWorld } from '../support/approvalWorld.js';
import { touched } from '../support/approvalTestApp.js';
import { aRequest } from '../support/requests.js';

/**
 * The operator's identity where no Easy Auth fronts the API, as in the sandbox: a function key
 * only. Nothing strips `x-ms-client-principal*` headers there, so the broker ignores them; every
 * function-key caller is the one operator the sandbox names for its key (`sandbox-operator`, also
 * its only operator approver). The adversarial pass found that such a caller could approve as any
 * name it wrote, and so approve its own teardown.
 */
let world: ApprovalWorld;

beforeAll(async () => {
  world = await ApprovalWorld.start({}, { easyAuth: false });
});

afterAll(async () => {
  await world?.stop();
});

async function cli(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', world.host.baseUrl, ...args], {
    out: (text) => out.push(text),
    err: (text) => err.push(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 25))),
    env: { CLAW_BROKER_KEY: world.host.functionKey },
  });
  return { code, out, err };
}

describe('without Easy Auth, the function key is one named operator', () => {
  it('ignores principal headers the caller writes: a function-key holder cannot approve its own teardown as someone else', async () => {
    const submitted = await world.api(
      'POST',
      '/api/requests',
      { op: 'teardown', slug: 'fk-self', requestId: 'fk-self-1' },
      { 'x-ms-client-principal-name': 'alice@example.com', 'x-ms-client-principal-id': 'alice' },
    );
    expect(submitted.status).toBe(202);
    const asked = await world.awaitingApproval('fk-self-1');
    expect(asked.text).toContain(`Requested by ${SANDBOX_OPERATOR} (request fk-self-1)`);
    expect((await world.request('fk-self-1')) as unknown).toMatchObject({
      requestedBy: { kind: 'operator', id: SANDBOX_OPERATOR },
    });

    const forged = await world.api(
      'POST',
      '/api/requests/fk-self-1/approve',
      {},
      { 'x-ms-client-principal-name': 'mallory@evil.example', 'x-ms-client-principal-id': 'mallory' },
    );
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ code: 'ApprovalForbidden' });
    expect((await world.request('fk-self-1')).status).toBe('awaiting-approval');
    expect(touched).not.toContain('fk-self-1');
    const audit = await world.audit('&requestId=fk-self-1');
    expect(audit).toContainEqual(
      expect.objectContaining({
        actor: `operator:${SANDBOX_OPERATOR}`,
        action: 'approve',
        outcome: 'refused',
      }),
    );
    expect(JSON.stringify(audit)).not.toContain('mallory');

    // Someone else, from the admin chat, can.
    await world.press('fk-self-1', 'Approve', ADA);
    expect((await world.until('fk-self-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });

  it('lets the named operator decide with claw-broker approve a request it did not ask for', async () => {
    await world.host.enqueue(
      'lifecycle-requests',
      JSON.stringify(
        aRequest({
          requestId: 'fk-cli-1',
          op: 'teardown',
          slug: 'fk-cli',
          params: {},
          requestedBy: { kind: 'chat', id: String(ADA) },
          requestedAt: new Date().toISOString(),
        }),
      ),
    );
    await world.awaitingApproval('fk-cli-1');
    const approved = await cli('approve', 'fk-cli-1');
    expect(approved.err).toEqual([]);
    expect(approved.out.join('\n')).toMatch(
      new RegExp(`^fk-cli-1: approved by ${SANDBOX_OPERATOR} at \\S+$`),
    );
    expect((await world.until('fk-cli-1', ['succeeded', 'rejected', 'failed'])).status).toBe('succeeded');
  });
});
