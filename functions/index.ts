/**
 * The Functions app's entry point (package.json "main"): importing a module registers its
 * functions with the host. This list is the single source of truth for what the app contains; the
 * local host in sandbox/ loads this same file. Telemetry starts first, so its instrumentation is
 * in place before the modules it instruments are used.
 */
import './telemetry.js';
import './intake.js';
import './slugRunner.js';
import './api/requests.js';
import './api/environments.js';
import './api/rejected.js';
import './provisionActivities.js';
import './approvals.js';
import './api/telegramWebhook.js';
import './api/approvals.js';
import './api/audit.js';
import './rotationActivities.js';
import './sasActivities.js';
import './sweeps.js';
import './api/sweeps.js';
import './housekeeping.js';
import './teardownActivities.js';
import './upgradeActivities.js';
import './upgradeWaveActivities.js';
import './api/upgrades.js';
