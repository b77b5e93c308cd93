import tls from 'node:tls';

/**
 * Adds the simulator's certificate to this process's default CA list (Node 22's
 * tls.setDefaultCACertificates), so every client that uses Node's TLS defaults (Azure SDK
 * pipelines, MSAL, fetch) accepts the simulator. Idempotent; affects connections opened later.
 */
export function trustSimulatorCertificate(certPem: string): void {
  const current = tls.getCACertificates('default');
  const normalized = certPem.trim();
  if (current.some((pem) => pem.trim() === normalized)) return;
  tls.setDefaultCACertificates([...current, certPem]);
}
