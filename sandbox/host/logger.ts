/** Severity names as the Functions worker uses them. */
export type HostLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical';

export interface HostLogEntry {
  time: string;
  level: HostLogLevel;
  /** "host", "durable", "queue", "timer", "http" or the function name for user logs. */
  category: string;
  message: string;
}

export type HostLogger = (entry: HostLogEntry) => void;

const levelRank: Record<HostLogLevel, number> = {
  trace: 0,
  debug: 1,
  information: 2,
  warning: 3,
  error: 4,
  critical: 5,
};

/** Writes entries at or above `minimum` to stderr; the default for the sandbox. */
export function consoleLogger(minimum: HostLogLevel = 'warning'): HostLogger {
  return (entry) => {
    if (levelRank[entry.level] < levelRank[minimum]) return;
    process.stderr.write(`[${entry.time}] ${entry.level} ${entry.category}: ${entry.message}\n`);
  };
}

/** Keeps the last `capacity` entries in memory, for tests and the admin endpoint. */
export class LogBuffer {
  readonly entries: HostLogEntry[] = [];
  constructor(private readonly capacity = 2000) {}
  readonly log: HostLogger = (entry) => {
    this.entries.push(entry);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  };
}
