import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ApiError, BrokerApi, type WaveView } from './brokerApi.js';
import { LIFECYCLE_OPS } from '../shared/requests/lifecycleRequest.js';
import type { RequestView } from '../shared/intake/requestView.js';

/**
 * `claw-broker`: the operator's command line over the broker's HTTP API.
 * Human output by default (`-o table`), `-o json` (or `--json`) and `-o tsv` for scripts. Exit codes,
 * as az and gh use them: 0 done; 1 the broker refused or the request ended failed or rejected; 2 a
 * usage error (nothing was sent); 3 `--wait` ran out of time (the request goes on).
 */

export const ExitCodes = { ok: 0, failed: 1, usage: 2, waitTimedOut: 3 } as const;

const OUTPUTS = ['table', 'json', 'tsv'] as const;
type Output = (typeof OUTPUTS)[number];

/** Request params that are lists: a plain `--param secrets=gateway-token,storage-key` is split on commas. */
const LIST_PARAMS = new Set(['secrets', 'channels', 'allowedIdentities', 'owners']);

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
    .option(
      '--key <key>',
      'function key; prefer env CLAW_BROKER_KEY (a key on the command line shows in process listings and shell history)',
    )
    .option(
      '--token <token>',
      'Entra access token for the broker, when Easy Auth fronts it (env CLAW_BROKER_TOKEN)',
      io.env['CLAW_BROKER_TOKEN'],
    )
    .option('-o, --output <format>', `output format: ${OUTPUTS.join(', ')}`, outputFormat, 'table' as Output)
    .option('--json', 'the same as -o json', false)
    .version(cliVersion(), '-V, --version', 'print the CLI version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.trimEnd()),
      writeErr: (s) => io.err(s.trimEnd()),
      // Commander repeats a refused argument; a --secret argument may hold a value typed by mistake.
      outputError: (s, write) =>
        write(s.replace(/(--secret <[^>]+>' argument '[A-Za-z]+=)[^']*'/g, "$1***'")),
    });

  let warnedAboutKey = false;
  const api = () => {
    const opts = program.opts<{ url: string; key?: string; token?: string }>();
    if (opts.key !== undefined && !warnedAboutKey) {
      warnedAboutKey = true;
      io.err(
        'warning: --key shows the function key in process listings and shell history; set CLAW_BROKER_KEY instead',
      );
    }
    const key = opts.key ?? io.env['CLAW_BROKER_KEY'];
    return new BrokerApi({
      baseUrl: opts.url,
      key,
      token: opts.token,
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
  };
  const output = (): Output => {
    const opts = program.opts<{ output: Output; json: boolean }>();
    return opts.json ? 'json' : opts.output;
  };
  const asJson = () => output() === 'json';
  /** Prints a value: JSON as is, a table for people, or tab-separated rows (the table's, or key/value). */
  const print = (
    value: unknown,
    human: () => string,
    rows?: () => { headers: string[]; rows: unknown[][] },
  ) => {
    const format = output();
    if (format === 'json') return io.out(JSON.stringify(value, null, 2));
    if (format === 'table') return io.out(human());
    const tabular = rows?.() ?? {
      headers: ['KEY', 'VALUE'],
      rows: Object.entries((value ?? {}) as Record<string, unknown>),
    };
    io.out(
      [tabular.headers, ...tabular.rows.map((row) => row.map(show))]
        .map((row) => row.map((cell) => String(cell).replace(/[\t\n]/g, ' ')).join('\t'))
        .join('\n'),
    );
  };

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
      'a secret for provision (telegramBotToken, foundryApiKey), read from a file; staged in the staging vault, never in the request',
      collectSecret,
      {},
    )
    .option('--request-id <id>', 'idempotency key (default: generated)')
    .option('--wait', 'follow the request step by step until it ends', false)
    .option('--poll <ms>', 'poll interval for --wait, in milliseconds', wholeNumber('--poll', 100), 1_000)
    .option(
      '--timeout <seconds>',
      'how long --wait follows the request before it gives up (exit 3; the request goes on)',
      wholeNumber('--timeout', 1),
      3_600,
    )
    .action(
      async (
        op: string,
        slug: string,
        options: {
          param: Record<string, unknown>;
          secret: Record<string, string>;
          requestId?: string;
          wait: boolean;
          poll: number;
          timeout: number;
        },
      ) => {
        const submitted = await api().submit({
          op,
          slug,
          params: options.param,
          ...(Object.keys(options.secret).length > 0 ? { secrets: options.secret } : {}),
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
        const final = await follow(submitted.requestId, options.poll, options.timeout * 1000);
        if (final === undefined) {
          io.err(
            `error: ${submitted.requestId} did not end within ${options.timeout} s; it goes on: claw-broker status ${submitted.requestId}`,
          );
          exitCode = ExitCodes.waitTimedOut;
          return;
        }
        if (asJson()) io.out(JSON.stringify(final, null, 2));
        if (final.status !== 'succeeded') exitCode = ExitCodes.failed;
      },
    );

  program
    .command('status')
    .description('show a request')
    .argument('<requestId>')
    .action(async (requestId: string) => {
      const view = await api().request(requestId);
      print(view, () => describeRequest(view));
      if (view.status === 'failed' || view.status === 'rejected') exitCode = ExitCodes.failed;
    });

  program
    .command('envs')
    .description('list environments')
    .action(async () => {
      const { environments } = await api().environments();
      const rows = () => ({
        headers: ['SLUG', 'STATE', 'VERSION', 'URL'],
        rows: environments.map((e) => [e['slug'], e['state'], e['openclawVersion'], e['url']]),
      });
      print(
        environments,
        () => (environments.length === 0 ? 'no environments' : table(rows().headers, rows().rows)),
        rows,
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
    .option('--limit <n>', 'how many (1-1000)', wholeNumber('--limit', 1, 1000), 50)
    .action(async (options: { limit: number }) => {
      const { rejected } = await api().rejected(options.limit);
      // The id is what `GET /api/rejected/{id}` takes, for the whole (masked) original text.
      const rows = () => ({
        headers: ['ID', 'RECEIVED', 'CODE', 'REQUEST', 'REASON'],
        rows: rejected.map((r) => [r['id'], r['receivedAt'], r['code'], r['requestId'] ?? '-', r['reason']]),
      });
      print(
        rejected,
        () => (rejected.length === 0 ? 'no rejected messages' : table(rows().headers, rows().rows)),
        rows,
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
    .option('--limit <n>', 'how many (1-1000)', wholeNumber('--limit', 1, 1000), 50)
    .option('--request-id <id>', 'only entries about this request')
    .option('--slug <slug>', 'only entries about this slug')
    .action(async (options: { limit: number; requestId?: string; slug?: string }) => {
      const { entries } = await api().audit(options);
      const rows = () => ({
        headers: ['AT', 'CHANNEL', 'WHO', 'ACTION', 'OUTCOME', 'ABOUT', 'REASON'],
        rows: entries.map((e) => [
          e['at'],
          e['channel'],
          e['actorName'] ? `${show(e['actor'])} (${show(e['actorName'])})` : e['actor'],
          e['action'],
          e['outcome'],
          e['requestId'] ?? e['slug'] ?? '-',
          e['reason'],
        ]),
      });
      print(
        entries,
        () => (entries.length === 0 ? 'no audit entries' : table(rows().headers, rows().rows)),
        rows,
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

  // Upgrade waves and per-slug upgrade controls (issue 14, item 3).
  const upgrades = program
    .command('upgrades')
    .description('fleet upgrade waves, and holding or pinning a slug');

  upgrades
    .command('start')
    .description('start a wave that upgrades the fleet to <version>, ring by ring (canary first)')
    .argument('<version>', 'an OpenClaw version such as 2026.9.6')
    .action(async (version: string) => {
      const wave = await api().startWave(version);
      print(
        wave,
        () =>
          `${wave.waveId} ${wave.status} (OpenClaw ${wave.targetVersion})\nprogress: claw-broker upgrades show ${wave.waveId}`,
      );
    });

  upgrades
    .command('list')
    .description('list upgrade waves, newest first')
    .action(async () => {
      const { waves } = await api().waves();
      const rows = () => ({
        headers: ['WAVE', 'VERSION', 'STATUS', 'RINGS', 'STARTED', 'ENDED'],
        rows: waves.map((w) => [
          w.waveId,
          w.targetVersion,
          w.status,
          w.rings.map((r) => `${r.done}/${r.slugs}`).join(' '),
          w.createdAt,
          w.endedAt,
        ]),
      });
      print(
        waves,
        () => (waves.length === 0 ? 'no upgrade waves' : table(rows().headers, rows().rows)),
        rows,
      );
    });

  upgrades
    .command('show')
    .description(
      "show a wave's progress: per ring, its slugs, done, failed, skipped, state and when it may start",
    )
    .argument('<waveId>')
    .action(async (waveId: string) => {
      const wave = await api().wave(waveId);
      const rows = () => ({
        headers: [
          'RING',
          'STATE',
          'SLUGS',
          'DONE',
          'UPGRADED',
          'FAILED',
          'BUDGET',
          'SKIPPED',
          'STARTS AFTER',
        ],
        rows: wave.rings.map((r) => [
          r.name,
          r.state,
          r.slugs,
          r.done,
          r.succeeded,
          r.failed,
          r.failureBudget,
          r.skipped,
          r.state === 'waiting' ? r.startsAfter : undefined,
        ]),
      });
      print(wave, () => describeWave(wave, table(rows().headers, rows().rows)), rows);
      if (wave.status === 'halted' || wave.status === 'aborted' || wave.status === 'failed')
        exitCode = ExitCodes.failed;
    });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    upgrades
      .command(action)
      .description(
        action === 'pause'
          ? 'pause a wave: it starts nothing new (upgrades already enqueued run on)'
          : action === 'resume'
            ? 'resume a paused wave'
            : 'abort a wave: it starts nothing more and ends',
      )
      .argument('<waveId>')
      .option('--reason <text>', 'why (recorded with who and when)')
      .action(async (waveId: string, options: { reason?: string }) => {
        const wave = await api().controlWave(waveId, action, options.reason);
        print(wave, () => `${wave.waveId}: ${action} recorded (${wave.status})`);
      });
  }

  upgrades
    .command('hold')
    .description('keep a slug out of every upgrade (waves skip it, upgrade requests for it are refused)')
    .argument('<slug>')
    .option('--reason <text>', 'why (recorded with who and when)')
    .action(async (slug: string, options: { reason?: string }) => {
      const answer = await api().holdUpgrades(slug, true, options.reason);
      print(answer, () => `${slug}: held from upgrades`);
    });

  upgrades
    .command('release')
    .description('let a held slug be upgraded again')
    .argument('<slug>')
    .action(async (slug: string) => {
      const answer = await api().holdUpgrades(slug, false);
      print(answer, () => `${slug}: no longer held`);
    });

  upgrades
    .command('pin')
    .description('keep a slug on <version>: waves to another version skip it')
    .argument('<slug>')
    .argument('<version>')
    .option('--reason <text>', 'why (recorded with who and when)')
    .action(async (slug: string, version: string, options: { reason?: string }) => {
      const answer = await api().pinUpgrades(slug, version, options.reason);
      print(answer, () => `${slug}: pinned to ${answer.pinned?.version ?? version}`);
    });

  upgrades
    .command('unpin')
    .description("remove a slug's pinned version")
    .argument('<slug>')
    .action(async (slug: string) => {
      const answer = await api().pinUpgrades(slug);
      print(answer, () => `${slug}: not pinned`);
    });

  /** Follows a request until it ends; undefined when `timeoutMs` of polling pass first. */
  async function follow(
    requestId: string,
    pollMs: number,
    timeoutMs: number,
  ): Promise<RequestView | undefined> {
    let last = '';
    let waited = 0;
    for (;;) {
      const view = await api().request(requestId);
      const line = describeProgress(view);
      if (line !== last && !asJson()) io.out(line);
      last = line;
      if (TERMINAL.has(view.status)) return view;
      if (waited >= timeoutMs) return undefined;
      await io.sleep(pollMs);
      waited += pollMs;
    }
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    // Help and --version exit 0; every other Commander exit is a usage error.
    if (isCommanderExit(error)) return error.exitCode === 0 ? ExitCodes.ok : ExitCodes.usage;
    if (error instanceof ApiError) {
      io.err(`error: ${error.code}: ${error.message}`);
      if (Array.isArray(error.details)) {
        for (const issue of error.details as { path?: string; message?: string }[])
          io.err(`  - ${issue.path ?? ''}: ${issue.message ?? ''}`);
      }
      return ExitCodes.failed;
    }
    io.err(`error: ${(error as Error).message}`);
    return ExitCodes.failed;
  }
}

function outputFormat(value: string): Output {
  if ((OUTPUTS as readonly string[]).includes(value)) return value as Output;
  throw new InvalidArgumentError(`expected one of ${OUTPUTS.join(', ')}`);
}

/** A parser for a whole-number option within bounds: `--poll abc` is a usage error, never NaN. */
function wholeNumber(option: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(
        `${option} takes a whole number${max === Number.MAX_SAFE_INTEGER ? ` of at least ${min}` : ` from ${min} to ${max}`}`,
      );
    }
    return number;
  };
}

/** The version of the claw-broker package this CLI belongs to (its package.json, from source or dist/). */
function cliVersion(): string {
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'claw-broker' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
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
    // a plain string; a list param takes it as comma-separated items
    if (LIST_PARAMS.has(key))
      parsed = raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
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

function describeWave(wave: WaveView, rings: string): string {
  const lines = [
    `${wave.waveId}  OpenClaw ${wave.targetVersion}  ${wave.status}${wave.reason ? `: ${wave.reason}` : ''}`,
    `started ${wave.createdAt} by ${wave.requestedBy.kind} ${wave.requestedBy.id}${wave.endedAt ? `, ended ${wave.endedAt}` : ''}`,
  ];
  if (wave.control?.paused && !wave.endedAt) lines.push(`paused by ${wave.control.by} at ${wave.control.at}`);
  lines.push('', rings);
  const failed = (wave.slugs ?? []).filter((slug) => slug.state === 'failed');
  if (failed.length > 0) {
    lines.push('', 'failed:');
    for (const slug of failed)
      lines.push(`  ${slug.slug} (ring ${slug.ring}): ${slug.reason ?? slug.outcome ?? 'failed'}`);
  }
  const skipped = [
    ...(wave.skippedSlugs ?? []),
    ...(wave.slugs ?? []).filter((slug) => slug.state === 'skipped'),
  ];
  if (skipped.length > 0) {
    lines.push('', 'skipped:');
    for (const slug of skipped) lines.push(`  ${slug.slug}: ${slug.reason ?? 'skipped'}`);
  }
  return lines.join('\n');
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
