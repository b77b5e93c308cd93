import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { sameIdentity } from '../../shared/approvals/contracts.js';
import { approverRefusal, operatorOf } from '../../shared/approvals/operatorIdentity.js';
import { loadConfig } from '../../shared/config.js';
import { webhookUrlProblem } from '../../shared/telegram/webhookUrl.js';
import { testSettings } from '../support/settings.js';

/**
 * Who an operator is, read from real HttpRequest objects of @azure/functions (whose `user` decodes
 * the headers App Service authentication sets), under each OPERATOR_AUTH.
 */
const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const ADMINS = 'a9900000-0000-4000-8000-0000000000a9';

function operators(settings: Record<string, string> = {}) {
  return loadConfig(testSettings(settings)).operators;
}

function request(headers: Record<string, string>): HttpRequest {
  return new HttpRequest({ url: 'https://broker.example/api/requests/x/approve', method: 'POST', headers });
}

/** The headers App Service sets for an Entra sign-in. */
function easyAuthHeaders(objectId: string, name: string, groups: string[] = []): Record<string, string> {
  const claims = [
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: objectId },
    ...groups.map((group) => ({ typ: 'groups', val: group })),
  ];
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify({ auth_typ: 'aad', claims })).toString('base64'),
    'x-ms-client-principal-id': objectId,
    'x-ms-client-principal-name': name,
    'x-ms-client-principal-idp': 'aad',
  };
}

describe('without Easy Auth', () => {
  it('ignores every principal header: the caller is the function key, anonymous unless a setting names it', () => {
    const spoofed = request(easyAuthHeaders(ALICE, 'alice@example.com'));
    expect(operatorOf(spoofed, operators())).toEqual({
      id: 'function-key',
      groups: [],
      authenticatedBy: 'function-key',
    });
    expect(operatorOf(spoofed, operators({ OPERATOR_FUNCTION_KEY_IDENTITY: 'ops-oncall' }))?.id).toBe(
      'ops-oncall',
    );
  });

  it('refuses API approvals unless the function key names an operator on the allow-list', () => {
    const anonymous = operatorOf(request({}), operators())!;
    expect(approverRefusal(anonymous, operators())).toMatch(
      /^approvals through the API need a known operator/,
    );
    const config = operators({ OPERATOR_FUNCTION_KEY_IDENTITY: 'ops-oncall' });
    const named = operatorOf(request({}), config)!;
    expect(approverRefusal(named, config)).toBe(
      'operator ops-oncall is not an approver (OPERATOR_APPROVER_IDS, OPERATOR_APPROVER_GROUP_IDS)',
    );
    const allowed = operators({
      OPERATOR_FUNCTION_KEY_IDENTITY: 'ops-oncall',
      OPERATOR_APPROVER_IDS: 'ops-oncall',
    });
    expect(approverRefusal(operatorOf(request({}), allowed)!, allowed)).toBeUndefined();
  });
});

describe('behind Easy Auth', () => {
  const config = operators({ OPERATOR_AUTH: 'easyauth', OPERATOR_APPROVER_GROUP_IDS: ADMINS });

  it('reads the principal through request.user: object id, name, groups', () => {
    expect(
      operatorOf(request(easyAuthHeaders(ALICE.toUpperCase(), 'alice@example.com', [ADMINS])), config),
    ).toEqual({
      id: ALICE,
      name: 'alice@example.com',
      groups: [ADMINS],
      authenticatedBy: 'easyauth',
    });
  });

  it('knows no operator when the platform set no principal, or a malformed one', () => {
    expect(operatorOf(request({}), config)).toBeUndefined();
    expect(
      operatorOf(request({ 'x-ms-client-principal-name': 'alice@example.com' }), config),
    ).toBeUndefined();
    expect(operatorOf(request({ 'x-ms-client-principal': 'not base64 json' }), config)).toBeUndefined();
    const withoutCompanions = easyAuthHeaders(ALICE, 'alice@example.com');
    delete withoutCompanions['x-ms-client-principal-idp'];
    expect(operatorOf(request(withoutCompanions), config)).toBeUndefined();
  });

  it('lets group members approve and no one else', () => {
    const member = operatorOf(request(easyAuthHeaders(ALICE, 'alice@example.com', [ADMINS])), config)!;
    expect(approverRefusal(member, config)).toBeUndefined();
    const outsider = operatorOf(request(easyAuthHeaders(ALICE, 'alice@example.com')), config)!;
    expect(approverRefusal(outsider, config)).toMatch(/is not an approver/);
  });
});

describe('one person across channels', () => {
  it('treats a linked Telegram account as its operator, and only a linked one', () => {
    const links = operators({ IDENTITY_LINKS: `1001=${ALICE.toUpperCase()}` }).identityLinks;
    const alice = { kind: 'operator' as const, id: ALICE };
    expect(sameIdentity({ kind: 'telegram', id: '1001' }, alice, links)).toBe(true);
    expect(sameIdentity({ kind: 'telegram', id: '1001' }, { kind: 'chat', id: '1001' }, links)).toBe(true);
    expect(sameIdentity({ kind: 'telegram', id: '1002' }, alice, links)).toBe(false);
    expect(sameIdentity({ kind: 'telegram', id: '1001' }, alice)).toBe(false);
  });

  it('refuses malformed links and approver ids at start-up, naming the setting', () => {
    expect(() => operators({ IDENTITY_LINKS: 'ada=alice' })).toThrow(
      /IDENTITY_LINKS: expected comma-separated/,
    );
    expect(() => operators({ OPERATOR_APPROVER_IDS: 'a b' })).toThrow(/OPERATOR_APPROVER_IDS/);
    expect(() => operators({ OPERATOR_AUTH: 'header' })).toThrow(/OPERATOR_AUTH/);
  });
});

describe('the Telegram webhook URL an operator may register', () => {
  it('is https on the app host or a configured proxy host, without credentials', () => {
    const app = 'https://func-claw.azurewebsites.net/api/telegram/setup';
    expect(
      webhookUrlProblem('https://func-claw.azurewebsites.net/api/telegram/webhook', app, []),
    ).toBeUndefined();
    expect(webhookUrlProblem('https://edge.example.com/tg', app, ['edge.example.com'])).toBeUndefined();
    expect(webhookUrlProblem('http://func-claw.azurewebsites.net/api/telegram/webhook', app, [])).toMatch(
      /must be https/,
    );
    expect(webhookUrlProblem('https://evil.example/tg', app, ['edge.example.com'])).toMatch(
      /host evil.example is neither this app's host/,
    );
    expect(webhookUrlProblem('https://a:b@edge.example.com/tg', app, ['edge.example.com'])).toMatch(
      /credentials/,
    );
  });
});
