/** One request as the admin endpoint shows it: no bodies, no headers, no query except api-version. */
export interface RequestLogEntry {
  seq: number;
  /** Simulated time the request arrived, ISO 8601. */
  at: string;
  method: string;
  /** Path only; query strings can carry SAS signatures and codes, so they are never logged. */
  path: string;
  apiVersion?: string;
  status: number;
  /** Wall-clock milliseconds the simulator took to answer (or until the socket was dropped). */
  latencyMs: number;
  surface: string;
  /** Object id of the calling principal when a simulator token was presented. */
  principal?: string;
  /** Id of the fault that answered instead of the surface, if any. */
  fault?: string;
  /** For ARM: which throttling bucket this request drew from. */
  throttled?: boolean;
}

/** A bounded, append-only log of requests; the oldest entries fall off past `capacity`. */
export class RequestLog {
  private readonly entries: RequestLogEntry[] = [];
  private seq = 0;

  constructor(private readonly capacity = 5_000) {}

  append(entry: Omit<RequestLogEntry, 'seq'>): RequestLogEntry {
    const full = { seq: ++this.seq, ...entry };
    this.entries.push(full);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    return full;
  }

  /** Entries with a sequence number above `afterSeq` (all by default). */
  list(afterSeq = 0): RequestLogEntry[] {
    return this.entries.filter((entry) => entry.seq > afterSeq);
  }

  clear(): void {
    this.entries.length = 0;
  }
}
