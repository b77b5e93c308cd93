import { isNotFound } from './azureErrors.js';
import { OWNERSHIP_TAG_VALUE, OWNERSHIP_TAGS } from '../domain/footprint.js';

/** What an `ensure...` call did to bring one resource to its desired state. */
export interface Change {
  /** The resource's kind and name, e.g. `Key Vault kv-acme-x1y2z1`. */
  readonly resource: string;
  readonly action: 'created' | 'updated' | 'recovered' | 'deleted';
  /** For updates: the settings that had drifted (paths), never their values. */
  readonly fields?: readonly string[];
}

/** The outcome of an idempotent `ensure...`: the resource's facts, and the change if one was made. */
export interface Ensured<T> {
  readonly value: T;
  /** Undefined when the resource was already as desired (no write was made). */
  readonly change?: Change | undefined;
}

/** Reads a resource; undefined when Azure answers 404. Every ensure reads before it writes. */
export async function getOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Reads a resource unless its resource group was created by this very run (`inNewGroup`), in which
 * case nothing in it can exist yet and the read is skipped. Safe when a crashed attempt did write:
 * every write the adapters make is an ARM PUT (create-or-update) of the whole desired state.
 */
export function readUnlessNew<T>(
  inNewGroup: boolean | undefined,
  read: () => Promise<T>,
): Promise<T | undefined> {
  return inNewGroup ? Promise.resolve(undefined) : getOrUndefined(read);
}

/** Options of the ensure functions for resources inside the slug's resource group. */
export interface EnsureOptions {
  /** The resource group was created by this run: skip reads of what cannot exist yet. */
  inNewGroup?: boolean | undefined;
}

/** Tags on every resource the broker owns; teardown and sweeps only touch what carries them. */
export function ownershipTags(slug: string): Record<string, string> {
  return { [OWNERSHIP_TAGS.managedBy]: OWNERSHIP_TAG_VALUE, [OWNERSHIP_TAGS.slug]: slug };
}

/**
 * The paths at which `actual` differs from `desired`, comparing only what `desired` specifies:
 * Azure adds read-only fields (ids, provisioning state, defaults, nulls for what was not sent),
 * which are not drift. Strings compare case-insensitively (ARM normalises enum casing and resource
 * ids), object keys case-insensitively. An empty list matches a missing or null one (a GET may
 * answer either for a list that was sent empty). A list whose items carry an identifying key
 * (`name`, `volumeName`, `type`, `server`: the `x-ms-identifiers` the Microsoft.App spec declares
 * for secrets, env, containers, volumes, volume mounts, probes and registries) is matched item by
 * item on that key, so an order the GET does not keep is not drift; other lists element by
 * element, with equal length.
 */
export function driftOf(desired: unknown, actual: unknown, path = ''): string[] {
  if (desired === undefined) return [];
  if (desired === null) return actual === null || actual === undefined ? [] : [path || '(root)'];
  if (Array.isArray(desired)) {
    if (desired.length === 0 && (actual === null || actual === undefined)) return [];
    if (!Array.isArray(actual) || actual.length !== desired.length) return [path || '(root)'];
    const key = identifyingKey(desired, actual);
    if (key !== undefined) {
      const actualItems: unknown[] = actual;
      const byKey = new Map(actualItems.map((item) => [idOf(item, key), item]));
      return desired.flatMap((item, index) => {
        const match = byKey.get(idOf(item, key));
        return match === undefined ? [`${path}[${index}]`] : driftOf(item, match, `${path}[${index}]`);
      });
    }
    return desired.flatMap((item, index) => driftOf(item, actual[index], `${path}[${index}]`));
  }
  if (typeof desired === 'object') {
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) return [path || '(root)'];
    const actualRecord = actual as Record<string, unknown>;
    const lowerKeys = new Map(Object.keys(actualRecord).map((key) => [key.toLowerCase(), key]));
    return Object.entries(desired as Record<string, unknown>).flatMap(([key, value]) => {
      const actualKey = lowerKeys.get(key.toLowerCase());
      return driftOf(
        value,
        actualKey === undefined ? undefined : actualRecord[actualKey],
        path ? `${path}.${key}` : key,
      );
    });
  }
  if (typeof desired === 'string' && typeof actual === 'string') {
    return desired.toLowerCase() === actual.toLowerCase() ? [] : [path || '(root)'];
  }
  return desired === actual ? [] : [path || '(root)'];
}

const IDENTIFYING_KEYS = ['name', 'volumeName', 'type', 'server'] as const;

/** The item's identifying value, lowercased ('' when it has none). */
function idOf(item: unknown, key: string): string {
  const value =
    item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' ? value.toLowerCase() : '';
}

/** The key that identifies every item of both lists, unique within each, if there is one. */
function identifyingKey(desired: unknown[], actual: unknown[]): string | undefined {
  const keyed = (items: unknown[], key: string) => {
    const ids = items.map((item) => idOf(item, key));
    return ids.every((id) => id !== '') && new Set(ids).size === ids.length;
  };
  return IDENTIFYING_KEYS.find((key) => keyed(desired, key) && keyed(actual, key));
}

/** The top-level setting names of drift paths (`template.containers[0].image` → `template`), deduplicated. */
export function driftSummary(paths: readonly string[], depth = 2): string[] {
  return [...new Set(paths.map((path) => path.split(/[.[]/).slice(0, depth).join('.')))];
}
