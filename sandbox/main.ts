/**
 * `npm run sandbox [-- --reset] [-- --port 7071] [-- --propagation 30] [-- --real-openclaw]`: runs claw-broker on this machine with embedded
 * defaults and no subscription: Azurite, the simulated Azure / Entra / Telegram / OpenClaw, and the
 * local Functions host with the broker's real functions. State lives in .sandbox/ and survives a
 * restart unless --reset. Ctrl-C stops everything cleanly.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { assertPortFree, lockDataDir, SandboxStartRefused } from './dataLock.js';

const USAGE = `usage: npm run sandbox [-- options]

  --reset              start from empty state (removes the data directory first)
  --port <port>        the broker's HTTP port (default 7071)
  --data-dir <dir>     where the sandbox keeps its state (default .sandbox)
  --propagation <s>    seconds before a new role assignment takes effect on the data planes (default 30)
  --azurite-default-ports
                       run Azurite on its usual ports (blob 10000, queue 10001, table 10002), where
                       Storage Explorer's "Local (Emulator)" and other tools look for it
  --real-openclaw      run the real OpenClaw gateway for the slugs it provisions, one at a time
                       (needs \`npm run openclaw:install\` once)
  --help               this text
`;

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        reset: { type: 'boolean', default: false },
        port: { type: 'string', default: '7071' },
        'data-dir': { type: 'string', default: '.sandbox' },
        // Seconds before a new role assignment takes effect on the data planes (Azure: minutes).
        propagation: { type: 'string', default: '30' },
        'real-openclaw': { type: 'boolean', default: false },
        'azurite-default-ports': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

/** Azurite's own defaults (blob, queue, table), where other tools look for the emulator. */
const AZURITE_DEFAULT_PORTS = [10000, 10001, 10002] as const;

const values = parseCommandLine();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
for (const [option, value] of [
  ['port', values.port],
  ['propagation', values.propagation],
] as const) {
  if (!/^\d+$/.test(value)) {
    console.error(`--${option} must be a whole number, not ${JSON.stringify(value)}\n\n${USAGE}`);
    process.exit(2);
  }
}

// Loaded after the command line is checked, so --help and a typo answer at once.
const {
  SANDBOX_FUNCTION_KEY,
  SANDBOX_OPENCLAW_VERSION,
  SANDBOX_OPERATOR,
  SANDBOX_TELEGRAM,
  startSandboxWorld,
} = await import('./world.js');
if (values['real-openclaw']) {
  const { requireOpenClawInstall } = await import('./openclaw-real/runtime.js');
  try {
    requireOpenClawInstall(SANDBOX_OPENCLAW_VERSION);
  } catch (error) {
    console.error(`claw-broker sandbox --real-openclaw: ${(error as Error).message}`);
    process.exit(1);
  }
}

const dataDir = resolve(values['data-dir']);
let lock: { release(): void };
try {
  // Before anything is deleted or started: a running sandbox keeps its data and its port.
  lock = lockDataDir(dataDir, Number(values.port));
  const ports: [number, string | undefined][] = [
    [Number(values.port), undefined],
    ...(values['azurite-default-ports'] ? AZURITE_DEFAULT_PORTS : []).map((port): [number, string] => [
      port,
      'stop the other Azurite, or start without --azurite-default-ports',
    ]),
  ];
  for (const [port, advice] of ports) {
    await assertPortFree(port, advice).catch((error: unknown) => {
      lock.release();
      throw error;
    });
  }
} catch (error) {
  if (!(error instanceof SandboxStartRefused)) throw error;
  console.error(`claw-broker sandbox: ${error.message}`);
  process.exit(1);
}
process.on('exit', () => lock.release());
if (values.reset) {
  rmSync(dataDir, { recursive: true, force: true });
  console.log(`reset: removed ${dataDir}`);
}

const started = Date.now();
let world: Awaited<ReturnType<typeof startSandboxWorld>>;
try {
  world = await startSandboxWorld({
    dataDir,
    hostPort: Number(values.port),
    simulator: { dataPlanePropagationSeconds: Number(values.propagation) },
    ...(values['azurite-default-ports']
      ? {
          azurite: {
            blobPort: AZURITE_DEFAULT_PORTS[0],
            queuePort: AZURITE_DEFAULT_PORTS[1],
            tablePort: AZURITE_DEFAULT_PORTS[2],
          },
        }
      : {}),
    ...(values['real-openclaw'] ? { realOpenClaw: {} } : {}),
  });
} catch (error) {
  console.error(
    `claw-broker sandbox could not start from the state in ${dataDir}: ${(error as Error).message}\n` +
      `If that state is damaged, \`npm run sandbox -- --reset\` starts fresh (it deletes ${dataDir}).`,
  );
  process.exit(1);
}
const api = world.host.baseUrl;

console.log(`
claw-broker sandbox is up in ${((Date.now() - started) / 1000).toFixed(1)} s (state in ${dataDir}${values.reset ? ', fresh' : ''})

  broker API       ${api}/api            (function key: ${SANDBOX_FUNCTION_KEY}; no Easy Auth here, so the key is operator ${SANDBOX_OPERATOR})
  simulated Azure  ${world.sim.url}       (admin: ${world.sim.url}/admin/state, ${world.sim.url}/admin/requests)
  host admin       ${api}/admin/host/instances/<instanceId>/timeline   (master key: x-functions-key ${world.host.masterKey})
  Telegram chat    admin chat ${SANDBOX_TELEGRAM.adminChatId}, approvers ${SANDBOX_TELEGRAM.approvers.map((u) => `${u.first_name} (${u.id})`).join(', ')}
  storage          ${world.azurite.connectionString}

In another terminal:

  export CLAW_BROKER_URL=${api} CLAW_BROKER_KEY=${SANDBOX_FUNCTION_KEY}
  npx claw-broker request provision acme --param channels='[]' --wait    # provision and follow it
  printf '7000000002:%s' "$(openssl rand -hex 16)" > bot-token              # a (fake) bot token, in a file
  npx claw-broker request provision zeta --secret telegramBotToken=@bot-token --wait
  npx claw-broker envs                              # the environment registry
  npx claw-broker rejected                          # messages the intake refused
  curl -s -H 'x-functions-key: ${SANDBOX_FUNCTION_KEY}' ${api}/api/requests/<requestId>

Enqueue a request with any queue client, here Azure CLI (plain JSON; the message is the request):

  az storage message put --queue-name lifecycle-requests --connection-string '${world.azurite.connectionString}' --content '{"schemaVersion":1,"requestId":"az-1","op":"provision","slug":"azq","params":{"channels":[]},"requestedBy":{"kind":"operator","id":"you@example.com"},"requestedAt":"2026-12-02T08:00:00Z"}'

The admin chat (${SANDBOX_TELEGRAM.adminChatId}) as its members see it, and their hands:

  npx claw-broker request teardown acme                                  # asks the admin chat to approve
  npx claw-broker approve <requestId>       # as ${SANDBOX_OPERATOR}: refused for its own requests (the chat approves those)
  curl -sk ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}                 # messages and their buttons
  curl -sk -X POST ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}/messages/<messageId>/press -d '{"button":"Approve","as":1001}'
  curl -sk -X POST ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}/say -d '{"text":"/envs","as":1001}'

${
  values['real-openclaw']
    ? `The real OpenClaw ${SANDBOX_OPENCLAW_VERSION} runs for the slug being provisioned (one at a time; state in ${dataDir}/openclaw/<app>/state):

  curl -sk ${world.sim.url}/real-openclaw/                       # the running gateway: pid, loopback URL, state dir, ready, memory
  curl -sk ${world.sim.url}/openclaw/ca-acme/readyz              # its /readyz, where the broker reads it
  curl -sk -X POST ${world.sim.url}/real-openclaw/ca-acme/pair   # a device (OpenClaw's own node client) asks to pair
  curl -sk -X POST ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}/say -d '{"text":"/devices acme","as":1001}'   # then press Approve

`
    : ''
}Ctrl-C stops the sandbox; run with --reset to start from nothing.
`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local host, the simulator and Azurite...`);
  await world.stop();
  console.log('stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
