import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  env: process.env,
});
