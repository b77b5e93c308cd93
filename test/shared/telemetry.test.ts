import { LoggerProvider, InMemoryLogRecordExporter, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ManagedIdentityCredential } from '@azure/identity';
import {
  ingestionCredential,
  RedactingLogRecordProcessor,
  RedactingSpanProcessor,
  startTelemetry,
} from '../../shared/telemetry.js';

/**
 * The redaction in front of Application Insights, on the OpenTelemetry SDK with in-memory
 * exporters in the order the Azure Monitor distro uses (its processor, ours, then the exporting
 * one): a credential in a URL or a message never reaches the exporter.
 */
const BOT_TOKEN = '7000000079:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq';
const SAS = 'sv=2025-01-05&se=2026-11-29&sp=wc&sig=Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D';

describe('telemetry redaction', () => {
  it('redacts credentials in span attributes, event attributes and the status message before export', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new RedactingSpanProcessor(), new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('test').startSpan('POST', {
      attributes: { 'url.full': `https://api.telegram.org/bot${BOT_TOKEN}/sendMessage` },
    });
    span.setAttribute('url.query', SAS);
    span.setAttribute('http.response.status_code', 200);
    span.addEvent('exception', { 'exception.message': `fetch https://x/bot${BOT_TOKEN}/getMe failed` });
    span.setStatus({ code: SpanStatusCode.ERROR, message: `call with ${SAS} refused` });
    span.end();

    const [exported] = exporter.getFinishedSpans();
    const text = JSON.stringify({
      attributes: exported!.attributes,
      events: exported!.events,
      status: exported!.status,
    });
    expect(text).not.toContain(BOT_TOKEN);
    expect(text).not.toContain('Zm9yZ2VkLXNpZ25hdHVyZQ');
    expect(exported!.attributes['url.full']).toBe('https://api.telegram.org/bot[redacted]/sendMessage');
    expect(exported!.attributes['http.response.status_code']).toBe(200);
  });

  it('redacts credentials in log record bodies and attributes before export', () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      processors: [new RedactingLogRecordProcessor(), new SimpleLogRecordProcessor(exporter)],
    });
    provider.getLogger('test').emit({
      body: `sent with bot${BOT_TOKEN}`,
      attributes: { url: `https://st.blob.core.windows.net/logs?${SAS}` },
    });
    const text = JSON.stringify(
      exporter
        .getFinishedLogRecords()
        .map((record) => ({ body: record.body, attributes: record.attributes })),
    );
    expect(text).toContain('[redacted]');
    expect(text).not.toContain(BOT_TOKEN);
    expect(text).not.toContain('Zm9yZ2VkLXNpZ25hdHVyZQ');
  });

  it('stays off without APPLICATIONINSIGHTS_CONNECTION_STRING (tests, the sandbox)', async () => {
    expect(await startTelemetry({})).toBe(false);
  });

  it('authenticates ingestion with the app’s managed identity when App Insights takes Entra tokens only', async () => {
    expect(await ingestionCredential(undefined)).toBeUndefined();
    expect(await ingestionCredential('')).toBeUndefined();
    expect(await ingestionCredential('Authorization=AAD')).toBeInstanceOf(ManagedIdentityCredential);
    expect(
      await ingestionCredential('Authorization=AAD;ClientId=00000000-0000-0000-0000-00000000000a'),
    ).toBeInstanceOf(ManagedIdentityCredential);
  });
});
