import { startTelemetry } from '../shared/telemetry.js';

/** Application Insights, when the app has a connection string (shared/telemetry.ts). */
await startTelemetry();
