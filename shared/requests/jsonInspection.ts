import { containsRawSecret } from './rawSecrets.js';

/**
 * How deep hostile JSON may nest before the broker refuses it. The deepest valid lifecycle request
 * is 4 levels (request > params > foundry > apiKey) and a Telegram update about 6; 32 leaves room
 * for fields Telegram adds while keeping every walk (the schema's included) far from the stack.
 */
export const MAX_JSON_DEPTH = 32;

/** The most findings one inspection reports: a message full of bad strings gets a bounded reason. */
const MAX_FINDINGS = 20;

/** A path segment longer than this is cut in messages (keys come from the input). */
const MAX_SEGMENT_CHARS = 64;

export interface JsonFinding {
  kind: 'too-deep' | 'forbidden-key' | 'raw-secret';
  path: string;
  message: string;
}

export interface InspectJsonOptions {
  /** Where the value sits, for the paths in findings: `params` when only the params are inspected. */
  rootPath?: string;
  /** Containers nested deeper than this are refused (the root container is level 1). */
  maxDepth?: number;
  /** Also report strings (keys included) that look like raw secret values. */
  rawSecrets?: boolean;
}

export const RAW_SECRET_MESSAGE =
  'this looks like a raw secret value; secrets are staged through the HTTP API and sent as { secretRef }';
export const PROTO_KEY_MESSAGE =
  'a field named "__proto__" is not accepted (JavaScript would take it as the object\'s prototype, not as data)';

/**
 * Walks parsed JSON without recursion (an explicit stack), so no input can overflow the call stack,
 * and reports what the broker refuses wherever it is: nesting deeper than `maxDepth` (not walked
 * further), a `__proto__` key, and, when asked, raw secret values in strings and keys. Bounded: at
 * most 20 findings. The order of findings follows the document.
 */
export function inspectJson(value: unknown, options: InspectJsonOptions = {}): JsonFinding[] {
  const maxDepth = options.maxDepth ?? MAX_JSON_DEPTH;
  const findings: JsonFinding[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value, path: options.rootPath ?? '', depth: 0 },
  ];
  const add = (finding: JsonFinding) => findings.push(finding);
  while (stack.length > 0 && findings.length < MAX_FINDINGS) {
    const item = stack.pop()!;
    if (typeof item.value === 'string') {
      if (options.rawSecrets && containsRawSecret(item.value))
        add({ kind: 'raw-secret', path: item.path || '(root)', message: RAW_SECRET_MESSAGE });
      continue;
    }
    if (item.value === null || typeof item.value !== 'object') continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) {
      add({
        kind: 'too-deep',
        path: item.path || '(root)',
        message: `nested deeper than ${maxDepth} levels; the broker does not read further`,
      });
      continue;
    }
    const children: { value: unknown; path: string; depth: number }[] = [];
    if (Array.isArray(item.value)) {
      item.value.forEach((child, index) =>
        children.push({ value: child, path: join(item.path, String(index)), depth }),
      );
    } else {
      for (const key of Object.keys(item.value)) {
        const path = join(item.path, key);
        if (key === '__proto__') add({ kind: 'forbidden-key', path, message: PROTO_KEY_MESSAGE });
        else if (options.rawSecrets && containsRawSecret(key))
          add({ kind: 'raw-secret', path: join(item.path, '(a key)'), message: RAW_SECRET_MESSAGE });
        children.push({ value: (item.value as Record<string, unknown>)[key], path, depth });
      }
    }
    for (let index = children.length - 1; index >= 0; index--) stack.push(children[index]!);
  }
  return findings;
}

function join(path: string, segment: string): string {
  const cut = segment.length > MAX_SEGMENT_CHARS ? `${segment.slice(0, MAX_SEGMENT_CHARS)}…` : segment;
  return path ? `${path}.${cut}` : cut;
}

/**
 * `JSON.stringify` for parsed JSON without recursion: the Functions worker hands a JSON queue
 * message over parsed, and V8's `JSON.stringify` overflows the stack at a few thousand nested
 * levels, which a 12 KB message reaches. Same output as `JSON.stringify` for values `JSON.parse`
 * makes; a Buffer (a binary message) becomes its UTF-8 text.
 */
export function stringifyJson(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  const out: string[] = [];
  // Work items: a value to write, or literal text (brackets and separators) to emit.
  const stack: ({ value: unknown } | { text: string })[] = [{ value }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('text' in item) {
      out.push(item.text);
      continue;
    }
    const current = item.value;
    if (current === null || typeof current !== 'object') {
      out.push(JSON.stringify(current) ?? 'null');
      continue;
    }
    const pending: ({ value: unknown } | { text: string })[] = [];
    if (Array.isArray(current)) {
      out.push('[');
      current.forEach((child, index) => {
        if (index > 0) pending.push({ text: ',' });
        pending.push({ value: child === undefined || typeof child === 'function' ? null : child });
      });
      pending.push({ text: ']' });
    } else {
      out.push('{');
      let first = true;
      for (const [key, child] of Object.entries(current)) {
        if (child === undefined || typeof child === 'function') continue;
        pending.push({ text: `${first ? '' : ','}${JSON.stringify(key)}:` }, { value: child });
        first = false;
      }
      pending.push({ text: '}' });
    }
    for (let index = pending.length - 1; index >= 0; index--) stack.push(pending[index]!);
  }
  return out.join('');
}
