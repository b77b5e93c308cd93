import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A loopback stand-in for the NGINX sidecar in front of the gateway: it forwards every connection
 * (WebSocket upgrades included) and adds `X-Forwarded-For` with a public client address to the first
 * request, as the sidecar does for every browser. The gateway trusts 127.0.0.1 as its proxy
 * (`gateway.trustedProxies`), so it sees a remote client, as in the container.
 */
export async function forwardingProxy(
  target: number,
  clientAddress = '203.0.113.7',
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    sockets.add(client);
    client.once('data', (first) => {
      const upstream = connect(target, '127.0.0.1');
      sockets.add(upstream);
      const text = first.toString('latin1');
      const end = text.indexOf('\r\n');
      const patched =
        end > 0
          ? Buffer.from(
              `${text.slice(0, end)}\r\nX-Forwarded-For: ${clientAddress}${text.slice(end)}`,
              'latin1',
            )
          : first;
      upstream.write(patched);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close);
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    port: (proxy.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
