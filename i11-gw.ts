import { mkdtempSync, writeFileSync, mkdirSync, symlinkSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { renderOpenClawConfig } from './shared/openclaw/renderConfig.js';
import { requireOpenClawInstall, spawnOpenClaw, isolatedEnv } from './sandbox/openclaw-real/runtime.js';
const version = process.argv[2]!;
const channels = (process.argv[3] ?? '').split(',').filter(Boolean) as ('telegram'|'teams')[];
const r = renderOpenClawConfig({ version, appFqdn: 'ca-acme.example.westeurope.azurecontainerapps.io', channels, adminRpc: true });
const home = mkdtempSync('/tmp/i11-g-'); mkdirSync(path.join(home,'state'), { mode: 0o700 });
const cfgDir = path.join(home,'etc-openclaw'); mkdirSync(path.join(cfgDir,'..d'), { recursive: true });
writeFileSync(path.join(cfgDir,'..d','openclaw.json'), r.text); chmodSync(path.join(cfgDir,'..d','openclaw.json'), 0o644);
symlinkSync('..d', path.join(cfgDir,'..data')); symlinkSync('..data/openclaw.json', path.join(cfgDir,'openclaw.json'));
const port = Number(process.argv[4] ?? 28789);
const env = isolatedEnv(home, { OPENCLAW_STATE_DIR: path.join(home,'state'), OPENCLAW_CONFIG_PATH: path.join(cfgDir,'openclaw.json'), OPENCLAW_GATEWAY_TOKEN: 'a'.repeat(64), TELEGRAM_BOT_TOKEN: '123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', TELEGRAM_WEBHOOK_SECRET: 'b'.repeat(64), MSTEAMS_APP_ID: '00000000-0000-0000-0000-000000000001', MSTEAMS_APP_PASSWORD: 'x'.repeat(40), MSTEAMS_TENANT_ID: '00000000-0000-0000-0000-000000000002', npm_config_offline: 'true', npm_config_registry: 'http://127.0.0.1:9/', OPENCLAW_GATEWAY_PORT: String(port) });
console.log('home', home);
const t0 = Date.now();
const child = spawnOpenClaw(requireOpenClawInstall(version), ['gateway','run','--port', String(port)], env);
child.stdout!.on('data', (d) => process.stdout.write('[out] ' + d.toString().slice(0, 400)));
child.stderr!.on('data', (d) => process.stdout.write('[err] ' + d.toString().slice(0, 400)));
child.on('exit', (c) => { console.log('exit', c, Date.now()-t0); process.exit(0); });
let last = '';
const timer = setInterval(async () => {
  const out: string[] = [];
  for (const p of ['/healthz','/startupz','/readyz']) {
    try { const res = await fetch(`http://127.0.0.1:${port}${p}`); out.push(`${p} ${res.status} ${(await res.text()).slice(0,150)}`); } catch (e) { out.push(`${p} ERR`); }
  }
  const line = out.join(' | ');
  if (line !== last) { console.log(`t=${Date.now()-t0}ms`, line); last = line; }
  if (line.includes('"ready":true') || Date.now()-t0 > 90000) {
    const rss = (await import('node:fs')).readFileSync(`/proc/${child.pid}/status`,'utf8').match(/VmRSS:\s+(\d+)/)?.[1];
    console.log('RSS kB', rss);
    clearInterval(timer);
    if (process.argv[5] !== 'keep') { process.kill(-child.pid!, 'SIGTERM'); }
  }
}, 500);
