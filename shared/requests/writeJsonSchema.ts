/** `npm run schema`: writes the published JSON Schema of the lifecycle request. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { lifecycleRequestJsonSchema } from './lifecycleRequest.js';

export const JSON_SCHEMA_PATH = 'schemas/lifecycle-request.v1.json';

export function renderJsonSchema(): string {
  return `${JSON.stringify(lifecycleRequestJsonSchema(), null, 2)}\n`;
}

if (process.argv[1]?.endsWith('writeJsonSchema.ts')) {
  mkdirSync('schemas', { recursive: true });
  writeFileSync(JSON_SCHEMA_PATH, renderJsonSchema());
  console.log(`wrote ${JSON_SCHEMA_PATH}`);
}
