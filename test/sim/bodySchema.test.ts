import { describe, expect, it } from 'vitest';
import { checkBody, s, violationsOf, withoutReadOnly } from '../../sandbox/sim/arm/bodySchema.js';

const schema = s.object(
  {
    location: s.string(),
    sku: s.object({ name: s.enum(['Standard', 'Premium']) }, ['name']),
    properties: s.object(
      {
        provisioningState: s.readOnly(),
        retentionInDays: s.integer(30, 730),
        name: s.string({ pattern: /^[a-z]+$/, maxLength: 8 }),
        items: s.array(s.object({ id: s.string() }, ['id']), { maxItems: 2 }),
        enabled: s.boolean(),
      },
      ['retentionInDays'],
    ),
    tags: s.map(s.string({ maxLength: 5 })),
  },
  ['location'],
);

describe('request bodies against a spec schema', () => {
  it('names every violation with its path: required, enum, bounds, pattern, length, items, types', () => {
    expect(
      violationsOf(schema, {
        sku: { name: 'Basic' },
        properties: {
          retentionInDays: 7,
          name: 'Ab-cdefghij',
          items: [{ id: 'a' }, {}, { id: 'c' }],
          enabled: 'yes',
        },
        tags: { k: 'too long' },
      }),
    ).toEqual([
      'location: required',
      "sku.name: 'Basic' is not one of Standard, Premium",
      'properties.retentionInDays: 7 is below the minimum 30',
      'properties.name: does not match ^[a-z]+$',
      'properties.name: longer than 8',
      'properties.items: at most 2 item(s)',
      'properties.items[1].id: required',
      'properties.enabled: expected a boolean',
      'tags.k: longer than 5',
    ]);
  });

  it('accepts a body that meets it, enum values in any case, and properties it does not describe', () => {
    expect(
      violationsOf(schema, {
        location: 'westeurope',
        sku: { name: 'standard' },
        properties: { retentionInDays: 30, other: { anything: 1 } },
        extra: true,
      }),
    ).toEqual([]);
  });

  it('drops read-only properties before checking, as ARM ignores them, and refuses with InvalidRequestContent', () => {
    const body = { location: 'x', properties: { retentionInDays: 31, provisioningState: 'Succeeded' } };
    expect(withoutReadOnly(schema, body)).toEqual({ location: 'x', properties: { retentionInDays: 31 } });
    expect(checkBody(schema, body)).toEqual({ location: 'x', properties: { retentionInDays: 31 } });
    expect(() => checkBody(schema, { properties: { retentionInDays: 1 } })).toThrow(
      expect.objectContaining({
        status: 400,
        body: {
          error: {
            code: 'InvalidRequestContent',
            message:
              'The request content was invalid and could not be deserialized: location: required; properties.retentionInDays: 1 is below the minimum 30.',
          },
        },
      }),
    );
  });
});
