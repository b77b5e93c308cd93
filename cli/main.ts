import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ApiError, BrokerApi } from './brokerApi.js';
import { LIFECYCLE_OPS } from '../shared/requests/lifecycleRequest.js';
import type { RequestView } from '../shared/intake/requestView.js';

/**
 * `claw-broker`: the operator's command line over the broker's HTTP API.
 * Human output by default, `--json` for scripts; a non-zero exit code on any failure, including a
 * request that ends failed or rejected under --wait.
 */

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  sleep(ms: number): Promise<void>;
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

const TERMINAL = new Set(['succeeded', 'failed', 'rejected']);

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const program = new Command('claw-broker')
    .description('Lifecycle broker for managed OpenClaw environments')
    .option(
      '--url <url>',
      'broker base URL (env CLAW_BROKER_URL)',
      io.env['CLAW_BROKER_URL'] ?? 'http://127.0.0.1:7071',
    )
    .option('--key <key>', 'function key (env CLAW_BROKER_KEY)', io.env['CLAW_BROKER_KEY'])
    .option(
      '--token <token>',
      'Entra access token for the broker, when Easy Auth fronts it (env CLAW_BROKER_TOKEN)',
      io.env['CLAW_BROKER_TOKEN'],
    )
    .option('--json', 'machine-readable JSON output', false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      // Commander repeats a refused argument; a --secret argument may hold a value typed by mistake.
      outputError: (s, write) =>
        write(s.replace(/(--secret <[^>]+>' argument '[A-Za-z]+=)[^']*'/g, "$1***'")),
    });

  const api = () => {
    const opts = program.opts<{ url: string; key?: string; token?: string }>();
    return new BrokerApi({
      baseUrl: opts.url,
      key: opts.key,
      token: opts.token,
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
  };
  const asJson = () => program.opts<{ json: boolean }>().json;
  const print = (value: unknown, human: () => string) =>
    io.out(asJson() ? JSON.stringify(value, null, 2) : human());

  program
    .command('request')
    .description('submit a lifecycle request')
    .argument('<op>', `one of ${LIFECYCLE_OPS.join(', ')}`)
    .argument('<slug>', 'the customer slug')
    .option(
      '-p, --param <key=value>',
      'a request parameter (repeatable; JSON values allowed)',
      collectParam,
      {},
    )
    .option(
      '-s, --secret <name=@file>',
      'a secret for provision (telegramBotToken, foundryApiKey), read from a file; staged in the broker vault, never in the request',
      collectSecret,
      {},
    )
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .option('--wait', 'follow the request step by step until it ends', false)
    .option('--poll <ms>', 'poll interval for --wait', (v) => Number(v), 1_000)
    .action(
      async (
        op: string,
        slug: string,
        options: { param: Record<string, unknown>; requestId?: string; wait: boolean; poll: number },
      ) => {
        const submitted = await api().submit({
          op,
          slug,
          params: options.param,
          ...(options.requestId ? { requestId: options.requestId } : {}),
        });
        if (!options.wait) {
          print(
            submitted,
            () => `${submitted.requestId} ${submitted.status}\nstatus: ${submitted.statusUrl}`,
          );
          return;
        }
        if (!asJson()) io.out(`${submitted.requestId} submitted (${op} ${slug})`);
        const final = await follow(submitted.requestId, options.poll);
        if (asJson()) io.out(JSON.stringify(final, null, 2));
        if (final.status !== 'succeeded') exitCode = 1;
      },
    );

  program
    .command('status')
    .description('show a request')
    .argument('<requestId>')
    .action(async (requestId: string) => {
      const view = await api().request(requestId);
      print(view, () => describeRequest(view));
      if (view.status === 'failed' || view.status === 'rejected') exitCode = 1;
    });

  program
    .command('envs')
    .description('list environments')
    .action(async () => {
      const { environments } = await api().environments();
      print(environments, () =>
        environments.length === 0
          ? 'no environments'
          : table(
              ['SLUG', 'STATE', 'VERSION', 'URL'],
              environments.map((e) => [e['slug'], e['state'], e['openclawVersion'], e['url']]),
            ),
      );
    });

  program
    .command('env')
    .description('show one environment')
    .argument('<slug>')
    .action(async (slug: string) => {
      const env = await api().environment(slug);
      print(env, () =>
        Object.entries(env)
          .map(([k, v]) => `${k}: ${show(v)}`)
          .join('\n'),
      );
    });

  program
    .command('rejected')
    .description('list messages the intake rejected, newest first')
    .option('--limit <n>', 'how many', (v) => Number(v), 50)
    .action(async (options: { limit: number }) => {
      const { rejected } = await api().rejected(options.limit);
      print(rejected, () =>
        rejected.length === 0
          ? 'no rejected messages'
          : table(
              ['RECEIVED', 'CODE', 'REQUEST', 'REASON'],
              rejected.map((r) => [r['receivedAt'], r['code'], r['requestId'] ?? '-', r['reason']]),
            ),
      );
    });

  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(decision)
      .description(`${decision} a request that awaits approval (as the operator the broker sees)`)
      .argument('<requestId>')
      .action(async (requestId: string) => {
        const answer = await api().decide(requestId, decision);
        print(answer, () =>
          answer.approval === 'pending'
            ? `${requestId}: ${answer.summary}; ${answer.approversNeeded - answer.approvals} more approval(s) needed`
            : `${requestId}: ${answer.summary}`,
        );
      });
  }

  program
    .command('audit')
    .description('list the approval and chat audit trail, newest first')
    .option('--limit <n>', 'how many', (v) => Number(v), 50)
    .option('--request-id <id>', 'only entries about this request')
    .option('--slug <slug>', 'only entries about this slug')
    .action(async (options: { limit: number; requestId?: string; slug?: string }) => {
      const { entries } = await api().audit(options);
      print(entries, () =>
        entries.length === 0
          ? 'no audit entries'
          : table(
              ['AT', 'CHANNEL', 'WHO', 'ACTION', 'OUTCOME', 'ABOUT', 'REASON'],
              entries.map((e) => [
                e['at'],
                e['channel'],
                e['actorName'] ? `${show(e['actor'])} (${show(e['actorName'])})` : e['actor'],
                e['action'],
                e['outcome'],
                e['requestId'] ?? e['slug'] ?? '-',
                e['reason'],
              ]),
            ),
      );
    });

  program
    .command('telegram-setup')
    .description("point the Telegram bot's webhook at the broker, with the secret token from Key Vault")
    .option('--webhook-url <url>', 'the public webhook URL (default: <broker>/api/telegram/webhook)')
    .action(async (options: { webhookUrl?: string }) => {
      const answer = await api().telegramSetup(options.webhookUrl);
      print(answer, () => `webhook set to ${answer.url}`);
    });

  async function follow(requestId: string, pollMs: number): Promise<RequestView> {
    let last = '';
    for (;;) {
      const view = await api().request(requestId);
      const line = describeProgress(view);
      if (line !== last && !asJson()) io.out(line);
      last = line;
      if (TERMINAL.has(view.status)) return view;
      await io.sleep(pollMs);
    }
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (isCommanderExit(error)) return error.exitCode;
    if (error instanceof ApiError) {
      io.err(`error: ${error.code}: ${error.message}`);
      if (Array.isArray(error.details)) {
        for (const issue of error.details as { path?: string; message?: string }[])
          io.err(`  - ${issue.path ?? ''}: ${issue.message ?? ''}`);
      }
      return 1;
    }
    io.err(`error: ${(error as Error).message}`);
    return 1;
  }
}

/**
 * `--secret name=@path`: the value is read from a file (a trailing newline dropped), so it never
 * appears on the command line, in shell history or in process listings.
 */
function collectSecret(value: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([A-Za-z]+)=@(.+)$/.exec(value);
  if (!match)
    throw new InvalidArgumentError(
      `expected name=@file (the secret is read from the file), got "${value.split('=')[0] ?? ''}=..."`,
    );
  let text: string;
  try {
    text = readFileSync(match[2]!, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read the secret file ${match[2]!}: ${(error as Error).message}`);
  }
  return { ...previous, [match[1]!]: text.replace(/\r?\n$/, '') };
}

function collectParam(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...previous, [key]: parsed };
}

function describeProgress(view: RequestView): string {
  if (view.status === 'queued')
    return `queued${view.queuePosition ? ` (position ${view.queuePosition})` : ''}`;
  if (view.status === 'running' || view.status === 'awaiting-approval') {
    const step = view.step ? `: ${view.step}` : '';
    return `${view.status}${step}${view.progress ? ` [${view.progress.done}/${view.progress.total}]` : ''}`;
  }
  const why = view.reason ?? view.summary;
  return `${view.status}${why ? `: ${why}` : ''}`;
}

function describeRequest(view: RequestView): string {
  return [
    `${view.requestId}  ${view.op} ${view.slug}`,
    describeProgress(view),
    `accepted ${view.acceptedAt}${view.finishedAt ? `, finished ${view.finishedAt}` : ''}`,
  ].join('\n');
}

/** A value as one line of human output. */
function show(value: unknown): string {
  if (value === undefined || value === null) return '-';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function table(headers: string[], rows: unknown[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(show))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row) =>
      row
        .map((cell, i) => (cell ?? '').padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function isCommanderExit(error: unknown): error is { exitCode: number } {
  return (
    typeof error === 'object' &&
    error !== null &&
    'exitCode' in error &&
    typeof (error as { code?: unknown }).code === 'string'
  );
}
