import type { TokenCredential } from '@azure/core-auth';
import type { Context } from '@opentelemetry/api';
import type { LogRecordProcessor, SdkLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { redact } from './logger.js';
import { messageOf } from './errors.js';

type Attributes = Record<string, unknown>;

/** Redacts every string (and string array item) of an attribute record in place. */
function redactAttributes(attributes: Attributes | undefined): void {
  if (!attributes) return;
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === 'string') attributes[key] = redact(value);
    else if (Array.isArray(value))
      attributes[key] = value.map((item: unknown) => (typeof item === 'string' ? redact(item) : item));
  }
}

/**
 * The last line of defence for traces: every string attribute, event attribute and status message
 * of every span goes through the logger's `redact` before export. URLs are where a credential
 * would leak (the Telegram Bot API puts the bot token in the path, a SAS is a query string); the
 * broker never puts one in a span on purpose.
 */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    // The span is ended and read-only by type; its records are exported later, by reference.
    redactAttributes(span.attributes);
    for (const event of span.events) redactAttributes(event.attributes);
    if (span.status.message) (span.status as { message?: string }).message = redact(span.status.message);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The same for log records (the body and attributes) sent through OpenTelemetry. */
export class RedactingLogRecordProcessor implements LogRecordProcessor {
  onEmit(record: SdkLogRecord): void {
    if (typeof record.body === 'string') record.setBody(redact(record.body));
    redactAttributes(record.attributes);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

let started = false;

/**
 * The credential for ingestion when the App Insights resource takes Entra tokens only (the
 * broker's Bicep sets DisableLocalAuth and `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` to
 * `Authorization=AAD`, optionally `;ClientId=<user-assigned identity>`), as the Functions host reads it.
 */
export async function ingestionCredential(
  authentication: string | undefined,
): Promise<TokenCredential | undefined> {
  const parts = new Map(
    (authentication ?? '')
      .split(';')
      .map((part) => part.split('=').map((piece) => piece.trim()) as [string, string | undefined])
      .map(([key, value]) => [key.toLowerCase(), value ?? ''] as const),
  );
  if (parts.get('authorization')?.toUpperCase() !== 'AAD') return undefined;
  const { ManagedIdentityCredential } = await import('@azure/identity');
  const clientId = parts.get('clientid');
  return clientId ? new ManagedIdentityCredential({ clientId }) : new ManagedIdentityCredential();
}

/**
 * Sends the broker's traces, dependencies (ARM, Key Vault, Graph, storage calls through the Azure
 * SDKs and Node's http/https) and metrics to Application Insights when the Functions app has
 * `APPLICATIONINSIGHTS_CONNECTION_STRING` (Azure sets it from the app's App Insights resource);
 * nothing otherwise (tests, the sandbox), and the distro is not even loaded. Everything passes the
 * redaction processors before export. Function logs reach Application Insights through the
 * Functions host (host.json sampling).
 */
export async function startTelemetry(
  env: Record<string, string | undefined> = process.env,
): Promise<boolean> {
  const connectionString = env['APPLICATIONINSIGHTS_CONNECTION_STRING'];
  if (started || !connectionString) return started;
  try {
    const { useAzureMonitor } = await import('@azure/monitor-opentelemetry');
    const credential = await ingestionCredential(env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING']);
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
      instrumentationOptions: { azureSdk: { enabled: true }, http: { enabled: true } },
      enableLiveMetrics: false,
      spanProcessors: [new RedactingSpanProcessor()],
      logRecordProcessors: [new RedactingLogRecordProcessor()],
    });
  } catch (error) {
    // Telemetry must never keep the broker from starting; the host's own logging still works.
    console.error(`telemetry not started: ${redact(messageOf(error))}`);
    return false;
  }
  started = true;
  return true;
}
