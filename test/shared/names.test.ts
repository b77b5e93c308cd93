import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AZURE_NAME_RULES,
  footprintNames,
  MAX_INCARNATION,
  type FootprintNames,
} from '../../shared/domain/footprint.js';
import { validSlug } from '../support/arbitraries.js';

const incarnation = fc.integer({ min: 1, max: MAX_INCARNATION });
const GLOBAL = ['keyVault', 'storageAccount', 'logAnalyticsWorkspace'] as const;

function violations(names: FootprintNames): string[] {
  return Object.entries(AZURE_NAME_RULES).flatMap(([kind, rule]) => {
    const name = names[kind as keyof typeof AZURE_NAME_RULES];
    const ok = name.length >= rule.min && name.length <= rule.max && rule.pattern.test(name);
    return ok ? [] : [`${kind} "${name}" breaks: ${rule.rule} (${rule.min}-${rule.max})`];
  });
}

describe('footprint names', () => {
  it('gives every valid slug and incarnation a valid name for every resource type', () => {
    fc.assert(
      fc.property(validSlug, incarnation, (slug, inc) => {
        expect(violations(footprintNames(slug, { salt: 'claw', incarnation: inc }))).toEqual([]);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the resource group claw-<slug> and the Entra group shire-<slug>', () => {
    const names = footprintNames('acme', { salt: 'claw', incarnation: 1 });
    expect(names.resourceGroup).toBe('claw-acme');
    expect(names.entraGroup).toBe('shire-acme');
  });

  it('never gives two distinct slugs the same globally unique name', () => {
    fc.assert(
      fc.property(validSlug, validSlug, incarnation, (a, b, inc) => {
        fc.pre(a !== b);
        const na = footprintNames(a, { salt: 'claw', incarnation: inc });
        const nb = footprintNames(b, { salt: 'claw', incarnation: inc });
        for (const kind of [...GLOBAL, 'resourceGroup', 'containerApp', 'entraGroup'] as const) {
          expect(na[kind]).not.toBe(nb[kind]);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('gives each incarnation of a slug fresh Key Vault, storage and Log Analytics names', () => {
    fc.assert(
      fc.property(validSlug, incarnation, incarnation, (slug, i, j) => {
        fc.pre(i !== j);
        const ni = footprintNames(slug, { salt: 'claw', incarnation: i });
        const nj = footprintNames(slug, { salt: 'claw', incarnation: j });
        for (const kind of GLOBAL) expect(ni[kind]).not.toBe(nj[kind]);
        expect(ni.resourceGroup).toBe(nj.resourceGroup);
      }),
    );
  });

  it('keeps all global names distinct across a fleet of similar slugs', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 2_000; n++) {
      for (const inc of [1, 2]) {
        const names = footprintNames(`tenant-${n}`, { salt: 'claw', incarnation: inc });
        for (const kind of GLOBAL) {
          expect(seen.has(names[kind])).toBe(false);
          seen.add(names[kind]);
        }
      }
    }
  });

  it('is deterministic for the same salt, slug and incarnation, and differs by salt', () => {
    expect(footprintNames('acme', { salt: 'claw', incarnation: 3 })).toEqual(
      footprintNames('acme', { salt: 'claw', incarnation: 3 }),
    );
    expect(footprintNames('acme', { salt: 'dev', incarnation: 3 }).keyVault).not.toBe(
      footprintNames('acme', { salt: 'prod', incarnation: 3 }).keyVault,
    );
  });

  it('refuses an invalid slug or incarnation with the reason', () => {
    expect(() => footprintNames('Acme', { salt: 'claw', incarnation: 1 })).toThrow(/lowercase/);
    expect(() => footprintNames('acme', { salt: 'claw', incarnation: 0 })).toThrow(
      /incarnation must be an integer from 1/,
    );
    expect(() => footprintNames('acme', { salt: 'claw', incarnation: MAX_INCARNATION + 1 })).toThrow(
      /incarnation/,
    );
  });
});
