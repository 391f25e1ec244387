import net from 'node:net';

export interface RawServer {
  readonly url: string;
  readonly port: number;
  /** Requests seen (their first line), for asserting that nothing was sent. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/**
 * A TCP server on loopback that answers HTTP by hand, byte by byte if it likes: how a registry or
 * token server misbehaves (slowloris, endless 1xx, bodies cut short) is only sayable below node:http.
 * `answer` gets each connection once its request head has arrived.
 */
export async function startRawServer(answer: (socket: net.Socket, head: string) => void): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      requests.push(head.slice(0, head.indexOf('\r\n')));
      answer(socket, head.slice(0, end));
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes `text` one byte every `everyMs` until the socket closes: never finishing, never idle. */
export function trickle(socket: net.Socket, text: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) {
      clearInterval(timer);
      return;
    }
    socket.write(text[i % text.length] ?? 'x');
    i++;
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

/** Writes `chunk` every `everyMs` until the socket closes. */
export function repeat(socket: net.Socket, chunk: string, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(chunk);
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}
