// Local PKI for the test control plane, made with the openssl CLI:
// a CA, the apiserver's serving certificate for 127.0.0.1, its client
// certificates towards kubelets and etcd, etcd's own certificate (serving
// clients and its peer port), a service-account signing key pair, and static
// bearer tokens for the components and the admin.
import { join } from "node:path";
import { makePrivate, makePrivateDir, writePrivateFile } from "./private_files.ts";
import { hex } from "./files.ts";

/** The Service IP range of the local cluster (the apiserver's --service-cluster-ip-range). */
export const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
/**
 * The `kubernetes` Service's ClusterIP: the range's first address, as the
 * apiserver allocates it. Pods reach the apiserver there on 443 (see
 * realnode/apiserver_service.ts), so its serving certificate names it, as a
 * real cluster's does.
 */
export const KUBERNETES_SERVICE_IP = "10.96.0.1";
/** The kube-dns Service's ClusterIP (kubeadm's usual choice; realnode/cluster_dns.ts). */
export const CLUSTER_DNS_IP = "10.96.0.10";
export const CLUSTER_DOMAIN = "cluster.local";

/** The apiserver's user towards kubelets (its client certificate's common name). */
export const KUBELET_CLIENT_USER = "kube-apiserver-kubelet-client";

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  tokenFile: string;
  adminToken: string;
  /** The apiserver's client certificate towards kubelets (logs, exec). */
  kubeletClientCert: string;
  kubeletClientKey: string;
  /** etcd's certificate: it serves clients and peers over TLS and requires client certificates. */
  etcdCert: string;
  etcdKey: string;
  /** The apiserver's client certificate towards etcd. */
  etcdClientCert: string;
  etcdClientKey: string;
}

/** Where createPki(dir) writes each file. */
export function pkiFiles(dir: string): Omit<Pki, "adminToken"> {
  const p = (f: string) => join(dir, f);
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("apiserver.crt"),
    servingKey: p("apiserver.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    kubeletClientCert: p("kubelet-client.crt"),
    kubeletClientKey: p("kubelet-client.key"),
    etcdCert: p("etcd.crt"),
    etcdKey: p("etcd.key"),
    etcdClientCert: p("apiserver-etcd-client.crt"),
    etcdClientKey: p("apiserver-etcd-client.key"),
  };
}

export async function openssl(args: string[], cwd: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (code !== 0) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return hex(bytes);
}

/** A new RSA key `<name>.key` in `dir`, readable by its owner only. */
async function privateKey(dir: string, name: string): Promise<void> {
  await openssl(["genrsa", "-out", `${name}.key`, "2048"], dir);
  await makePrivate(join(dir, `${name}.key`));
}

/** A self-signed CA in `dir` (`<name>.key`, `<name>.crt`); `dir` is made private. */
export async function createCa(
  dir: string,
  name: string,
  commonName: string,
  days: number,
): Promise<{ cert: string; key: string }> {
  await makePrivateDir(dir);
  await privateKey(dir, name);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      `${name}.key`,
      "-subj",
      `/CN=${commonName}`,
      "-days",
      String(days),
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/**
 * A key and a certificate for `subject` signed by `ca`, written into `dir` as
 * `<name>.key` and `<name>.crt`; `extensions` is an openssl extension file's text.
 */
export async function signCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string,
  ca: { cert: string; key: string },
  days: number,
): Promise<{ cert: string; key: string }> {
  await privateKey(dir, name);
  await openssl(
    ["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`],
    dir,
  );
  await Deno.writeTextFile(join(dir, `${name}.ext`), extensions);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      String(days),
      "-extfile",
      `${name}.ext`,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export async function createPki(dir: string): Promise<Pki> {
  const ca = await createCa(dir, "ca", "kubetask-test-ca", 30);
  await signCertificate(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=IP:127.0.0.1,IP:${KUBERNETES_SERVICE_IP},DNS:localhost,DNS:kubernetes,` +
      "DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n" +
      "extendedKeyUsage=serverAuth\n",
    ca,
    30,
  );
  await signCertificate(
    dir,
    "kubelet-client",
    // No group: kubelets authorize this user by its binding to system:kubelet-api-admin.
    `/CN=${KUBELET_CLIENT_USER}`,
    "extendedKeyUsage=clientAuth\n",
    ca,
    30,
  );
  await signCertificate(
    dir,
    "etcd",
    "/CN=etcd",
    // The same certificate serves clients and, as client and server, the peer port.
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    ca,
    30,
  );
  await signCertificate(
    dir,
    "apiserver-etcd-client",
    "/CN=kube-apiserver-etcd-client",
    "extendedKeyUsage=clientAuth\n",
    ca,
    30,
  );
  await privateKey(dir, "sa");
  await openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);

  // One static bearer token (user, uid, groups) shared by the admin and the
  // components: this cluster exists only for tests on loopback.
  const adminToken = randomToken();
  await writePrivateFile(
    pkiFiles(dir).tokenFile,
    `${adminToken},admin,admin-uid,"system:masters"\n`,
  );
  return { ...pkiFiles(dir), adminToken };
}
