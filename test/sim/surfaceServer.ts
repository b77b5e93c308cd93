import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SimHttpError,
  type SimRequest,
  type SimResponse,
  type SimSurface,
} from '../../sandbox/sim/surface.js';
import { messageOf } from '../../shared/errors.js';

/**
 * A minimal stand-in for the simulator's HTTPS server, for surface tests: plain HTTP on 127.0.0.1,
 * offers each request to the surfaces by prefix, first answer wins, 404 when none answers.
 */
export interface SurfaceServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startSurfaceServer(...surfaces: SimSurface[]): Promise<SurfaceServer> {
  const server = createHttpServer((req, res) => {
    void answer(surfaces, req, res, server.address() as AddressInfo);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function answer(
  surfaces: SimSurface[],
  req: IncomingMessage,
  res: ServerResponse,
  address: AddressInfo,
): Promise<void> {
  try {
    const simRequest = toSimRequest(req, await readBody(req), address);
    let response: SimResponse | undefined;
    for (const surface of surfaces) {
      if (!simRequest.url.pathname.startsWith(surface.prefix)) continue;
      try {
        response = await surface.handle(simRequest);
      } catch (err) {
        if (!(err instanceof SimHttpError)) throw err;
        response = { status: err.status, headers: err.headers, body: err.body };
      }
      if (response) break;
    }
    send(res, response ?? { status: 404, body: { error: 'no surface answered' } });
  } catch (err) {
    send(res, { status: 500, body: { error: messageOf(err) } });
  }
}

function toSimRequest(req: IncomingMessage, body: Buffer, address: AddressInfo): SimRequest {
  return {
    method: req.method ?? 'GET',
    url: new URL(req.url ?? '/', `http://127.0.0.1:${address.port}`),
    headers: req.headers,
    body,
    json<T>(): T {
      try {
        return JSON.parse(body.toString('utf8')) as T;
      } catch {
        throw new SimHttpError(400, { error: 'body is not JSON' });
      }
    },
  };
}

function send(res: ServerResponse, response: SimResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  let payload: Buffer | string | undefined;
  if (response.body === undefined) {
    payload = undefined;
  } else if (typeof response.body === 'string' || Buffer.isBuffer(response.body)) {
    payload = response.body;
  } else {
    payload = JSON.stringify(response.body);
    headers['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
