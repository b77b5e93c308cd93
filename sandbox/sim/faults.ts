import { z } from 'zod';

/**
 * Faults the server applies before a surface sees the request (transport faults) and faults a
 * surface asks for at a specific point of its own logic (semantic faults).
 */
export const transportFaultKinds = ['http', 'reset', 'timeout'] as const;
export const semanticFaultKinds = [
  'lroFailed',
  'slowProvisioning',
  'principalNotFound',
  'keyVaultForbidden',
  'containerExit',
] as const;
export type TransportFaultKind = (typeof transportFaultKinds)[number];
export type SemanticFaultKind = (typeof semanticFaultKinds)[number];

const faultMatchSchema = {
  /** Surface name: "arm", "identity", "keyvault", "blob", "telegram", "graph", "openclaw", ... */
  surface: z.string().optional(),
  /** HTTP method, case-insensitive. */
  method: z.string().optional(),
  /** Regular expression (source) tested case-insensitively against the path (no query). */
  path: z.string().optional(),
  /** How many matching requests the fault fires for; unlimited when omitted. */
  count: z.number().int().positive().optional(),
  /** Probability in [0, 1] that a matching request fires the fault; 1 when omitted. */
  probability: z.number().min(0).max(1).optional(),
  /** Matching requests to let through before the fault starts firing. */
  skip: z.number().int().nonnegative().optional(),
};

export const faultSpecSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('http'),
    ...faultMatchSchema,
    status: z.number().int().min(400).max(599),
    /** Sent as Retry-After (seconds); defaults to 1 for 429 and 503. */
    retryAfterSeconds: z.number().int().nonnegative().optional(),
    code: z.string().optional(),
    message: z.string().optional(),
    /** Replaces the default `{ error: { code, message } }` body, for surfaces with other shapes. */
    body: z.unknown().optional(),
  }),
  z.object({ kind: z.literal('reset'), ...faultMatchSchema }),
  z.object({ kind: z.literal('timeout'), ...faultMatchSchema }),
  z.object({
    kind: z.literal('lroFailed'),
    ...faultMatchSchema,
    code: z.string().optional(),
    message: z.string().optional(),
  }),
  z.object({ kind: z.literal('slowProvisioning'), ...faultMatchSchema, seconds: z.number().positive() }),
  z.object({ kind: z.literal('principalNotFound'), ...faultMatchSchema }),
  z.object({ kind: z.literal('keyVaultForbidden'), ...faultMatchSchema }),
  /**
   * A container app's container exits as soon as it starts (a crash loop while it keeps firing).
   * Matched with surface `containerapps`, method `START` and the replica's ARM id as the path
   * (`.../containerApps/<app>/revisions/<revision>/replicas/<replica>`); each start attempt is one match.
   */
  z.object({
    kind: z.literal('containerExit'),
    ...faultMatchSchema,
    exitCode: z.number().int().min(1).max(255).optional(),
    message: z.string().optional(),
  }),
]);

export type FaultSpec = z.input<typeof faultSpecSchema>;
export type ParsedFaultSpec = z.output<typeof faultSpecSchema>;
export type Fault = ParsedFaultSpec & { id: string; fired: number; seen: number };

/** What a fault is matched against. */
export interface FaultTarget {
  surface: string;
  method: string;
  path: string;
}

/**
 * The list of active faults. `match` consumes one firing of the first fault of the given kinds that
 * matches; exhausted faults stay listed (with their counts) until removed, so tests can assert on them.
 */
export class FaultRegistry {
  private readonly faults: Fault[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number = Math.random) {}

  /** Validates and adds a fault; throws a zod error naming the bad field. */
  add(spec: FaultSpec): Fault {
    const parsed = faultSpecSchema.parse(spec);
    if (parsed.path !== undefined) new RegExp(parsed.path, 'i');
    const fault: Fault = { ...parsed, id: `fault-${this.nextId++}`, fired: 0, seen: 0 };
    this.faults.push(fault);
    return fault;
  }

  remove(id: string): boolean {
    const index = this.faults.findIndex((fault) => fault.id === id);
    if (index < 0) return false;
    this.faults.splice(index, 1);
    return true;
  }

  clear(): void {
    this.faults.length = 0;
  }

  list(): Fault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  match<K extends Fault['kind']>(
    kinds: readonly K[],
    target: FaultTarget,
  ): Extract<Fault, { kind: K }> | undefined {
    for (const fault of this.faults) {
      if (!(kinds as readonly string[]).includes(fault.kind)) continue;
      if (fault.count !== undefined && fault.fired >= fault.count) continue;
      if (fault.surface !== undefined && fault.surface !== target.surface) continue;
      if (fault.method !== undefined && fault.method.toUpperCase() !== target.method.toUpperCase()) continue;
      if (fault.path !== undefined && !new RegExp(fault.path, 'i').test(target.path)) continue;
      fault.seen += 1;
      if (fault.skip !== undefined && fault.seen <= fault.skip) continue;
      if (fault.probability !== undefined && this.random() >= fault.probability) continue;
      fault.fired += 1;
      return fault as Extract<Fault, { kind: K }>;
    }
    return undefined;
  }
}
