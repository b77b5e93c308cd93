/**
 * One bench module in its own process (see runner.ts): loads the module given as the first
 * argument, declares its time limit, runs it at the size given as the second argument and prints
 * its figures as one JSON line. Exits explicitly: a world that leaves a handle open must not keep
 * the next module waiting.
 */
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { childProtocol, type BenchModule, type BenchSize } from './runner.js';

const [file, sizeArgument] = process.argv.slice(2);
if (!file || (sizeArgument !== 'full' && sizeArgument !== 'smoke')) {
  console.error('usage: child.ts <module file> <full|smoke>');
  process.exit(2);
}
const size: BenchSize = sizeArgument;
try {
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function' || typeof mod.timeLimitMs !== 'function')
    throw new Error(`${file} does not export run(options) and timeLimitMs(size)`);
  console.log(`${childProtocol.LIMIT}${mod.timeLimitMs(size)}`);
  const results = await mod.run({ size });
  console.log(`${childProtocol.RESULTS}${JSON.stringify(results)}`);
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
