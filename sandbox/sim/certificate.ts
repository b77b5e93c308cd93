import { randomBytes } from 'node:crypto';
import { generate } from 'selfsigned';

export interface SimulatorCertificate {
  certPem: string;
  keyPem: string;
}

/**
 * Makes a fresh self-signed certificate for the simulator's HTTPS listeners, valid for the IP
 * 127.0.0.1 and the name localhost. It is its own CA, so a client trusts it by adding the PEM to its
 * CA list (see trustSimulatorCertificate).
 */
export async function createSimulatorCertificate(): Promise<SimulatorCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(notBeforeDate.getTime() + 30 * 24 * 3600 * 1000);
  // A unique subject per certificate: a process that trusts several simulators (one per test
  // file section) holds several self-signed CAs, and OpenSSL looks issuers up by subject name.
  const commonName = `claw-broker simulator ${randomBytes(6).toString('hex')}`;
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}
