import type { SimHttpError } from '../surface.js';
import { invalidRequestContent } from './armErrors.js';
import { isRecord } from './resourceType.js';

/**
 * The constraints an official REST spec (Azure/azure-rest-api-specs) places on a request body, at
 * one api-version, written by us as data (never a copied spec file): types, required properties,
 * enums, bounds, patterns and read-only properties. Each resource type's schema names its spec file.
 * Only what the broker sends is described in depth; any other property is accepted unchecked, as the
 * schema's `properties` list is not closed (ARM ignores most unknown properties).
 */
export type BodySchema =
  | ObjectSchema
  | {
      kind: 'array';
      items?: BodySchema;
      minItems?: number;
      maxItems?: number;
      readOnly?: boolean;
    }
  | {
      kind: 'string';
      /** Compared case-insensitively when `caseInsensitive` (x-ms-enum with modelAsString). */
      enum?: readonly string[];
      caseInsensitive?: boolean;
      pattern?: RegExp;
      minLength?: number;
      maxLength?: number;
      readOnly?: boolean;
    }
  | { kind: 'integer' | 'number'; minimum?: number; maximum?: number; readOnly?: boolean }
  | { kind: 'boolean'; readOnly?: boolean }
  | { kind: 'any'; readOnly?: boolean };

export interface ObjectSchema {
  kind: 'object';
  required?: readonly string[];
  properties?: Readonly<Record<string, BodySchema>>;
  /** The schema of every value of a map (additionalProperties), e.g. tags or userAssignedIdentities. */
  values?: BodySchema;
  readOnly?: boolean;
}

/**
 * The body without what the schema marks read-only: ARM ignores read-only properties a client sends
 * ("readOnly ... is not sent as part of the request", Swagger 2.0 / autorest x-ms conventions), so
 * they are neither checked nor stored.
 */
export function withoutReadOnly(schema: BodySchema, value: unknown): unknown {
  if (schema.kind === 'object' && isRecord(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const child = schema.properties?.[key] ?? schema.values;
      if (child?.readOnly) continue;
      result[key] = child ? withoutReadOnly(child, item) : item;
    }
    return result;
  }
  if (schema.kind === 'array' && Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.map((item) => withoutReadOnly(items, item));
  }
  return value;
}

/** Every way `value` breaks `schema`, each as `path: problem`. Null stands for absent, as ARM reads it. */
export function violationsOf(schema: BodySchema, value: unknown, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const at = path || '(body)';
  switch (schema.kind) {
    case 'any':
      return [];
    case 'object': {
      if (!isRecord(value)) return [`${at}: expected an object`];
      const problems = (schema.required ?? [])
        .filter((key) => value[key] === undefined || value[key] === null)
        .map((key) => `${join(path, key)}: required`);
      for (const [key, item] of Object.entries(value)) {
        const child = schema.properties?.[key] ?? schema.values;
        if (child) problems.push(...violationsOf(child, item, join(path, key)));
      }
      return problems;
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${at}: expected an array`];
      const items: unknown[] = value;
      const problems: string[] = [];
      if (schema.minItems !== undefined && items.length < schema.minItems)
        problems.push(`${at}: at least ${schema.minItems} item(s)`);
      if (schema.maxItems !== undefined && items.length > schema.maxItems)
        problems.push(`${at}: at most ${schema.maxItems} item(s)`);
      const itemSchema = schema.items;
      if (itemSchema)
        items.forEach((item, index) => problems.push(...violationsOf(itemSchema, item, `${path}[${index}]`)));
      return problems;
    }
    case 'string': {
      if (typeof value !== 'string') return [`${at}: expected a string`];
      const problems: string[] = [];
      if (schema.enum) {
        const fold = (text: string) => (schema.caseInsensitive ? text.toLowerCase() : text);
        if (!schema.enum.some((allowed) => fold(allowed) === fold(value)))
          problems.push(`${at}: '${value}' is not one of ${schema.enum.join(', ')}`);
      }
      if (schema.pattern && !schema.pattern.test(value))
        problems.push(`${at}: does not match ${schema.pattern.source}`);
      if (schema.minLength !== undefined && value.length < schema.minLength)
        problems.push(`${at}: shorter than ${schema.minLength}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength)
        problems.push(`${at}: longer than ${schema.maxLength}`);
      return problems;
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || (schema.kind === 'integer' && !Number.isInteger(value)))
        return [`${at}: expected ${schema.kind === 'integer' ? 'an integer' : 'a number'}`];
      const problems: string[] = [];
      if (schema.minimum !== undefined && value < schema.minimum)
        problems.push(`${at}: ${value} is below the minimum ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum)
        problems.push(`${at}: ${value} is above the maximum ${schema.maximum}`);
      return problems;
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at}: expected a boolean`];
  }
}

/**
 * ARM's answer to a body its spec refuses: 400 `InvalidRequestContent` ("The request content was
 * invalid and could not be deserialized", Learn: Troubleshoot common Azure deployment errors), naming
 * each property. Resource providers phrase the detail their own way; the code is ARM's.
 */
export function checkBody(schema: BodySchema, body: Record<string, unknown>): Record<string, unknown> {
  const stripped = withoutReadOnly(schema, body) as Record<string, unknown>;
  const problems = violationsOf(schema, stripped);
  if (problems.length > 0) throw invalidContent(problems);
  return stripped;
}

function invalidContent(problems: string[]): SimHttpError {
  return invalidRequestContent(
    `The request content was invalid and could not be deserialized: ${problems.join('; ')}.`,
  );
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Shorthands for writing schemas. */
export const s = {
  object: (properties: Record<string, BodySchema>, required: readonly string[] = []): ObjectSchema => ({
    kind: 'object',
    properties,
    required,
  }),
  map: (values: BodySchema): ObjectSchema => ({ kind: 'object', values }),
  array: (items: BodySchema, bounds: { minItems?: number; maxItems?: number } = {}): BodySchema => ({
    kind: 'array',
    items,
    ...bounds,
  }),
  string: (constraints: Omit<Extract<BodySchema, { kind: 'string' }>, 'kind'> = {}): BodySchema => ({
    kind: 'string',
    ...constraints,
  }),
  enum: (values: readonly string[]): BodySchema => ({ kind: 'string', enum: values, caseInsensitive: true }),
  integer: (minimum?: number, maximum?: number): BodySchema => ({
    kind: 'integer',
    ...(minimum !== undefined ? { minimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
  }),
  number: (): BodySchema => ({ kind: 'number' }),
  boolean: (): BodySchema => ({ kind: 'boolean' }),
  any: (): BodySchema => ({ kind: 'any' }),
  readOnly: (): BodySchema => ({ kind: 'any', readOnly: true }),
};
