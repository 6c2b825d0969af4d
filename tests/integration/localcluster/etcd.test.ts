// etcd holds every object of the cluster, Secrets included. On a shared
// machine any local user can connect to its port: it must refuse plain HTTP
// and TLS clients without a certificate of the cluster CA.
import assert from "assert";
import { join } from "node:path";
import { etcdHttpClient } from "../../../localcluster/cluster.ts";
import { pkiFiles } from "../../../localcluster/pki.ts";
import { clusterState } from "../env.ts";

/** A v3 range read of every key under /registry/ (what an attacker wants). */
function readRegistry(url: string, client?: Deno.HttpClient): Promise<Response> {
  return fetch(`${url}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: btoa("/registry/"), range_end: btoa("/registry0"), limit: 1 }),
    client,
  });
}

Deno.test("local cluster: etcd refuses plain HTTP and TLS clients without a certificate", async () => {
  const state = await clusterState();
  assert.ok(state, "the test cluster's state");
  const pki = pkiFiles(join(state.dir, "pki"));
  const port = new URL(state.etcdUrl).port;

  const plain = await readRegistry(`http://127.0.0.1:${port}`).then(
    async (res) => `HTTP ${res.status}: ${(await res.text()).slice(0, 80)}`,
    (err) => `refused: ${(err as Error).message}`,
  );
  console.log(`plain http: ${plain}`);
  assert.doesNotMatch(plain, /^HTTP 200/, "plain HTTP reads nothing");

  const noCert = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(pki.caCert)] });
  const anonymous = await readRegistry(`https://127.0.0.1:${port}`, noCert).then(
    async (res) => `HTTP ${res.status}: ${(await res.text()).slice(0, 80)}`,
    (err) => `refused: ${(err as Error).message}`,
  );
  noCert.close();
  console.log(`TLS without a client certificate: ${anonymous}`);
  assert.match(anonymous, /^refused: /, "a TLS client without a certificate is refused");

  // The apiserver's certificate is accepted: the refusals above are etcd's, not a dead port.
  const client = await etcdHttpClient(pki);
  const res = await readRegistry(state.etcdUrl, client);
  const body = await res.json();
  client.close();
  assert.equal(res.status, 200);
  assert.ok(Number(body.count) > 0, "the apiserver's client certificate reads the registry");
});
