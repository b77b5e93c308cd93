/**
 * An ARM request path split into its parts. ARM paths are case-insensitive in their fixed words
 * ("resourceGroups", "providers") and in names; callers compare with `sameId`.
 */
export interface ResourcePath {
  subscriptionId: string;
  resourceGroup?: string;
  /** Resource provider namespace as sent, e.g. "Microsoft.KeyVault". */
  namespace?: string;
  /** Type segments after the namespace, e.g. ["vaults"] or ["storageAccounts", "fileServices", "shares"]. */
  types: string[];
  /** Names, one per type segment that has a name. */
  names: string[];
  /** A trailing segment without a name: a collection (GET) or an action (POST). */
  trailing?: string;
}

/** Parses `/subscriptions/{s}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}...]`. */
export function parseResourcePath(pathname: string): ResourcePath | undefined {
  const segments = pathname
    .split('/')
    .filter(Boolean)
    .map((segment) => decodeURIComponent(segment));
  if (segments[0]?.toLowerCase() !== 'subscriptions' || segments[1] === undefined) return undefined;
  const result: ResourcePath = { subscriptionId: segments[1], types: [], names: [] };
  let index = 2;
  if (segments[index]?.toLowerCase() === 'resourcegroups') {
    const group = segments[index + 1];
    if (group === undefined) {
      result.trailing = segments[index];
      return segments.length === index + 1 ? result : undefined;
    }
    result.resourceGroup = group;
    index += 2;
  }
  if (index >= segments.length) return result;
  if (segments[index]?.toLowerCase() !== 'providers') {
    if (segments.length === index + 1) {
      result.trailing = segments[index];
      return result;
    }
    return undefined;
  }
  result.namespace = segments[index + 1];
  if (result.namespace === undefined) return undefined;
  index += 2;
  while (index < segments.length) {
    const type = segments[index]!;
    const name = segments[index + 1];
    if (name === undefined) {
      result.trailing = type;
      break;
    }
    result.types.push(type);
    result.names.push(name);
    index += 2;
  }
  return result;
}

/** Case-insensitive id comparison, as ARM does. */
export function sameId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** True when `scope` is `id` or one of its ancestors (on segment boundaries). */
export function scopeCovers(scope: string, id: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const target = id.toLowerCase();
  return s === '' || target === s || target.startsWith(`${s}/`);
}

export function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

/** The resource group name of an id, if it has one. */
export function resourceGroupOf(id: string): string | undefined {
  return /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)/i.exec(id)?.[1];
}
