// A connection to the cluster for one CLI command: the kubeconfig (and
// context) kubectl would use, and the namespace: -n, else the context's,
// else "default".
import { AccessProvider } from "../controllers/runtime/access.ts";
import { RestKubeClient } from "../controllers/runtime/kube.ts";
import { ApiTransport } from "../controllers/runtime/transport.ts";
import type { Connection } from "./args.ts";

export interface Session {
  client: RestKubeClient;
  transport: ApiTransport;
  namespace: string;
  close(): Promise<void>;
}

export async function openSession(connection: Connection): Promise<Session> {
  const access = await AccessProvider.load({
    kubeconfig: connection.kubeconfig,
    context: connection.context,
  });
  const transport = new ApiTransport(access);
  const current = await access.current();
  return {
    client: new RestKubeClient(transport),
    transport,
    namespace: connection.namespace ?? current.namespace ?? "default",
    close: async () => {
      await transport.close();
    },
  };
}
