#!/usr/bin/env node
// The claw-broker CLI. Runs the compiled CLI when built (npm run build), otherwise the TypeScript
// source through tsx, so `npx claw-broker` works straight after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const compiled = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
if (existsSync(compiled)) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../cli/bin.ts', import.meta.url).href);
}
