// A TCP relay: accepts on the real node's bridge address and passes each
// connection, bytes unchanged (TLS end to end), to the apiserver on loopback.
// Pods reach it through the `kubernetes` Service (apiserver_service.ts).
//
//   deno run --allow-net=LISTEN,TARGET apiserver_relay.ts LISTEN TARGET [TAG]
// with LISTEN and TARGET as host:port; TAG, not read, names the cluster for
// whoever looks for its processes.

export function hostPort(arg: string | undefined): { hostname: string; port: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(arg ?? "");
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
    throw new Error(`not an IPv4 host:port: ${JSON.stringify(arg)}`);
  }
  return { hostname: m[1], port: Number(m[2]) };
}

async function relay(conn: Deno.Conn, target: { hostname: string; port: number }) {
  let upstream: Deno.Conn;
  try {
    upstream = await Deno.connect(target);
  } catch {
    // The apiserver is down (a test restarting it): the client sees the connection end.
    conn.close();
    return;
  }
  await Promise.allSettled([
    conn.readable.pipeTo(upstream.writable),
    upstream.readable.pipeTo(conn.writable),
  ]);
  for (const c of [conn, upstream]) {
    try {
      c.close();
    } catch { /* closed by its stream already */ }
  }
}

if (import.meta.main) {
  const listen = hostPort(Deno.args[0]);
  const target = hostPort(Deno.args[1]);
  const listener = Deno.listen(listen);
  console.error(`relaying ${Deno.args[0]} to ${Deno.args[1]}`);
  for await (const conn of listener) relay(conn, target);
}
