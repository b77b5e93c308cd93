import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { TelegramClient } from '../../shared/telegram/telegramClient.js';
import { decisionProblem, type ApprovalDecision } from '../../shared/approvals/contracts.js';
import { parseCommand } from '../../shared/telegram/updates.js';

const TOKEN = '7000000001:AAHfakeTokenValueForTests0123456789ab';

function clientAnswering(answer: () => Promise<Response>): { client: TelegramClient; urls: string[] } {
  const urls: string[] = [];
  const client = new TelegramClient({
    apiBase: 'https://telegram.test',
    token: async () => TOKEN,
    fetch: async (url) => {
      urls.push(url instanceof Request ? url.url : url.toString());
      return answer();
    },
  });
  return { client, urls };
}

describe('the Telegram client', () => {
  it('makes each Bot API call a client span (a dependency in Application Insights) without the token', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    try {
      const ok = clientAnswering(
        async () => new Response(JSON.stringify({ ok: true, result: { message_id: 7 } })),
      );
      await ok.client.sendMessage({ chatId: 1, text: 'hi' });
      const refused = clientAnswering(
        async () => new Response(JSON.stringify({ ok: false, description: 'Forbidden' }), { status: 403 }),
      );
      await expect(refused.client.sendMessage({ chatId: 1, text: 'hi' })).rejects.toThrow('Forbidden');
      const spans = exporter.getFinishedSpans();
      expect(
        spans.map((span) => [span.name, span.kind, span.attributes['http.response.status_code']]),
      ).toEqual([
        ['POST /bot{token}/sendMessage', 2, 200],
        ['POST /bot{token}/sendMessage', 2, 403],
      ]);
      expect(spans[0]!.attributes['url.full']).toBe('https://telegram.test/bot[redacted]/sendMessage');
      expect(spans[1]!.status.code).toBe(2);
      expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain(TOKEN);
    } finally {
      trace.disable();
    }
  });

  it('puts the token only in the request URL, never in an error when the transport fails', async () => {
    const { client, urls } = clientAnswering(async () => {
      throw new TypeError(`fetch failed for https://telegram.test/bot${TOKEN}/sendMessage`);
    });
    const error = (await client.sendMessage({ chatId: 1, text: 'hi' }).then(
      () => new Error('expected a failure'),
      (e: unknown) => e,
    )) as Error;
    expect(urls).toEqual([`https://telegram.test/bot${TOKEN}/sendMessage`]);
    expect(error.message).toBe(
      'Telegram sendMessage failed (0): TypeError: the Bot API could not be reached',
    );
    expect(JSON.stringify(error)).not.toContain(TOKEN);
  });

  it("reports Telegram's description on a refusal and treats an unchanged edit as done", async () => {
    const refusing = clientAnswering(
      async () =>
        new Response(
          JSON.stringify({ ok: false, error_code: 400, description: 'Bad Request: chat not found' }),
          { status: 400 },
        ),
    ).client;
    await expect(refusing.sendMessage({ chatId: 1, text: 'hi' })).rejects.toThrow(
      'Telegram sendMessage failed (400): Bad Request: chat not found',
    );
    const unchanged = clientAnswering(
      async () =>
        new Response(
          JSON.stringify({
            ok: false,
            error_code: 400,
            description: 'Bad Request: message is not modified: ...',
          }),
          {
            status: 400,
          },
        ),
    ).client;
    await expect(
      unchanged.editMessageText({ chatId: 1, messageId: 2, text: 'same' }),
    ).resolves.toBeUndefined();
  });
});

describe('chat commands', () => {
  it('reads the command and its arguments, with or without the bot name', () => {
    expect(parseCommand('/status acme')).toEqual({ command: 'status', args: ['acme'] });
    expect(parseCommand('/devices@claw_broker_bot  acme ')).toEqual({ command: 'devices', args: ['acme'] });
    expect(parseCommand('hello /status')).toBeUndefined();
  });
});

describe("the orchestration's own check of a decision", () => {
  const decision = (overrides: Partial<ApprovalDecision>): ApprovalDecision => ({
    requestId: 'r',
    outcome: 'approved',
    decidedAt: '2026-11-22T08:00:00Z',
    decidedBy: { kind: 'telegram', id: '1001' },
    approvals: [{ by: { kind: 'telegram', id: '1001' }, at: '2026-11-22T08:00:00Z', via: 'telegram' }],
    policy: { approvers: 1, requesterMayApprove: false },
    requestedBy: { kind: 'operator', id: 'alice@example.com' },
    ...overrides,
  });

  it('accepts enough distinct approvers and any rejection', () => {
    expect(decisionProblem(decision({}))).toBeUndefined();
    expect(decisionProblem(decision({ outcome: 'rejected', approvals: [] }))).toBeUndefined();
  });

  it('refuses too few distinct approvers and the requester approving where forbidden', () => {
    const vote = {
      by: { kind: 'telegram' as const, id: '1001' },
      at: '2026-11-22T08:00:00Z',
      via: 'telegram' as const,
    };
    expect(
      decisionProblem(
        decision({ policy: { approvers: 2, requesterMayApprove: false }, approvals: [vote, vote] }),
      ),
    ).toBe('approved by 1 of the 2 approvers needed');
    expect(decisionProblem(decision({ requestedBy: { kind: 'chat', id: '1001' } }))).toBe(
      'the requester approved their own request',
    );
    expect(
      decisionProblem(
        decision({
          requestedBy: { kind: 'chat', id: '1001' },
          policy: { approvers: 1, requesterMayApprove: true },
        }),
      ),
    ).toBeUndefined();
  });
});
