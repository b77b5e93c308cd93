/**
 * `npm run sandbox [-- --reset] [-- --port 7071] [-- --propagation 30]`: runs claw-broker on this machine with embedded
 * defaults and no subscription: Azurite, the simulated Azure / Entra / Telegram / OpenClaw, and the
 * local Functions host with the broker's real functions. State lives in .sandbox/ and survives a
 * restart unless --reset. Ctrl-C stops everything cleanly.
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SANDBOX_FUNCTION_KEY, SANDBOX_OPERATOR, SANDBOX_TELEGRAM, startSandboxWorld } from './world.js';

const { values } = parseArgs({
  options: {
    reset: { type: 'boolean', default: false },
    port: { type: 'string', default: '7071' },
    'data-dir': { type: 'string', default: '.sandbox' },
    // Seconds before a new role assignment takes effect on the data planes (Azure: minutes).
    propagation: { type: 'string', default: '30' },
  },
});

const dataDir = resolve(values['data-dir']);
if (values.reset) {
  rmSync(dataDir, { recursive: true, force: true });
  console.log(`reset: removed ${dataDir}`);
}

const started = Date.now();
const world = await startSandboxWorld({
  dataDir,
  hostPort: Number(values.port),
  simulator: { dataPlanePropagationSeconds: Number(values.propagation) },
});
const api = world.host.baseUrl;

console.log(`
claw-broker sandbox is up in ${((Date.now() - started) / 1000).toFixed(1)} s (state in ${dataDir}${values.reset ? ', fresh' : ''})

  broker API       ${api}/api            (function key: ${SANDBOX_FUNCTION_KEY}; no Easy Auth here, so the key is operator ${SANDBOX_OPERATOR})
  simulated Azure  ${world.sim.url}       (admin: ${world.sim.url}/admin/state, ${world.sim.url}/admin/requests)
  host admin       ${api}/admin/host/instances/<instanceId>/timeline   (master key: x-functions-key ${world.host.masterKey})
  Telegram chat    admin chat ${SANDBOX_TELEGRAM.adminChatId}, approvers ${SANDBOX_TELEGRAM.approvers.map((u) => `${u.first_name} (${u.id})`).join(', ')}

In another terminal:

  export CLAW_BROKER_URL=${api} CLAW_BROKER_KEY=${SANDBOX_FUNCTION_KEY}
  npx claw-broker request provision acme --param channels='[]' --wait    # provision and follow it
  printf '7000000002:%s' "$(openssl rand -hex 16)" > bot-token              # a (fake) bot token, in a file
  npx claw-broker request provision zeta --secret telegramBotToken=@bot-token --wait
  npx claw-broker envs                              # the environment registry
  npx claw-broker rejected                          # messages the intake refused
  curl -s -H 'x-functions-key: ${SANDBOX_FUNCTION_KEY}' ${api}/api/requests/<requestId>

The admin chat (${SANDBOX_TELEGRAM.adminChatId}) as its members see it, and their hands:

  npx claw-broker request teardown acme                                  # asks the admin chat to approve
  npx claw-broker approve <requestId>       # as ${SANDBOX_OPERATOR}: refused for its own requests (the chat approves those)
  curl -sk ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}                 # messages and their buttons
  curl -sk -X POST ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}/messages/<messageId>/press -d '{"button":"Approve","as":1001}'
  curl -sk -X POST ${world.sim.url}/admin/telegram/chats/${SANDBOX_TELEGRAM.adminChatId}/say -d '{"text":"/envs","as":1001}'

Ctrl-C stops the sandbox; run with --reset to start from nothing.
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
