import { z } from 'zod';
import { checkSlug } from '../domain/slug.js';
import { isCalendarVersion, OPENCLAW_VERSION_PATTERN } from '../domain/openclawVersion.js';

/**
 * The lifecycle request, version 1: the one message format every intake path (queue, HTTP API,
 * CLI, timers, chat) produces. Its JSON Schema is published at schemas/lifecycle-request.v1.json
 * for tools that enqueue directly (regenerate with `npm run schema`; a test fails when it drifts).
 */

export const LIFECYCLE_REQUEST_SCHEMA_VERSION = 1;

export const LIFECYCLE_OPS = ['provision', 'rotate-secrets', 'renew-sas', 'upgrade', 'teardown'] as const;
export type LifecycleOp = (typeof LIFECYCLE_OPS)[number];

export const REQUEST_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export const requestIdSchema = z
  .string()
  .regex(
    REQUEST_ID_PATTERN,
    'a requestId has 1-64 characters: letters, digits, . _ : - (starting with a letter or digit)',
  )
  .describe('Idempotency key: the same requestId is processed once.');

export const slugSchema = z
  .string()
  .superRefine((value, ctx) => {
    const result = checkSlug(value);
    if (!result.ok) ctx.addIssue({ code: 'custom', message: result.reason });
  })
  .describe('The customer slug: 3-20 lowercase letters, digits and single hyphens, starting with a letter.')
  .meta({ pattern: '^[a-z](?!.*--)[a-z0-9-]{1,18}[a-z0-9]$', minLength: 3, maxLength: 20 });

const calendarVersion = z
  .string()
  .refine(isCalendarVersion, 'expected an OpenClaw calendar version such as 2026.9.6')
  .meta({ pattern: OPENCLAW_VERSION_PATTERN });

/**
 * A reference to a secret staged in the broker's Key Vault. Secret values never travel in a
 * request: the HTTP API stages them and puts the reference here.
 */
export const secretRefSchema = z
  .object({
    secretRef: z
      .string()
      .regex(
        /^https:\/\/[^/\s]+\/secrets\/[0-9A-Za-z-]{1,127}(\/[0-9a-f]{32})?$/,
        'expected a Key Vault secret URI (https://<vault>/secrets/<name>[/<version>])',
      ),
  })
  .strict()
  .describe('A Key Vault secret URI in the broker vault; never the secret value.');

const channel = z.enum(['telegram', 'teams']);

export const provisionParamsSchema = z
  .object({
    openclawVersion: calendarVersion.optional().describe('Defaults to the configured OpenClaw version.'),
    channels: z
      .array(channel)
      .max(2)
      .refine((items) => new Set(items).size === items.length, 'channels must not repeat')
      .default(['telegram']),
    telegramBotToken: secretRefSchema.optional(),
    foundry: z
      .object({
        endpoint: z.url({ protocol: /^https$/, error: 'expected an https endpoint URL' }),
        deployment: z.string().min(1).max(64),
        apiKey: secretRefSchema.optional(),
      })
      .strict()
      .optional(),
    allowedIdentities: z
      .array(z.uuid({ error: 'expected an Entra object id (GUID)' }))
      .max(50)
      .default([])
      .describe(
        'Extra Entra users or groups allowed through the edge besides shire-admins and shire-<slug>.',
      ),
    owners: z.array(z.string().min(1).max(256)).max(20).default([]),
  })
  .strict();

export const SECRET_KINDS = ['gateway-token', 'storage-key', 'entra-client-secret'] as const;

export const rotateSecretsParamsSchema = z
  .object({
    secrets: z
      .array(z.enum(SECRET_KINDS))
      .min(1)
      .optional()
      .describe('Which secrets to rotate; default: all that are due by policy.'),
  })
  .strict();

export const renewSasParamsSchema = z.object({}).strict();

export const upgradeParamsSchema = z
  .object({
    targetVersion: calendarVersion.optional().describe('Defaults to the newest eligible version.'),
  })
  .strict();

export const teardownParamsSchema = z
  .object({
    purgeKeyVault: z
      .boolean()
      .default(false)
      .describe('Purge the soft-deleted Key Vault where policy allows.'),
    reason: z.string().max(500).optional(),
  })
  .strict();

export const requestedBySchema = z
  .object({
    kind: z.enum(['operator', 'timer', 'chat']),
    id: z.string().min(1).max(128),
  })
  .strict()
  .describe('Who asked: an operator principal, a timer sweep, or a chat user id.');

const common = {
  schemaVersion: z.literal(LIFECYCLE_REQUEST_SCHEMA_VERSION),
  requestId: requestIdSchema,
  slug: slugSchema,
  requestedBy: requestedBySchema,
  requestedAt: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 timestamp' }),
};

export const lifecycleRequestSchema = z
  .discriminatedUnion('op', [
    z
      .object({
        ...common,
        op: z.literal('provision'),
        params: provisionParamsSchema.default(provisionParamsSchema.parse({})),
      })
      .strict(),
    z
      .object({ ...common, op: z.literal('rotate-secrets'), params: rotateSecretsParamsSchema.default({}) })
      .strict(),
    z.object({ ...common, op: z.literal('renew-sas'), params: renewSasParamsSchema.default({}) }).strict(),
    z.object({ ...common, op: z.literal('upgrade'), params: upgradeParamsSchema.default({}) }).strict(),
    z
      .object({
        ...common,
        op: z.literal('teardown'),
        params: teardownParamsSchema.default(teardownParamsSchema.parse({})),
      })
      .strict(),
  ])
  .meta({
    $id: 'https://claw-broker.dev/schemas/lifecycle-request.v1.json',
    title: 'claw-broker lifecycle request, version 1',
  });

export type LifecycleRequest = z.infer<typeof lifecycleRequestSchema>;
export type LifecycleRequestInput = z.input<typeof lifecycleRequestSchema>;
export type RequestedBy = z.infer<typeof requestedBySchema>;
export type ParamsOf<Op extends LifecycleOp> = Extract<LifecycleRequest, { op: Op }>['params'];

/** The published JSON Schema (draft 2020-12) of the request message. */
export function lifecycleRequestJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(lifecycleRequestSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  });
}
