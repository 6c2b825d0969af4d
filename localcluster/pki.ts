// Local PKI for the test control plane, made with the openssl CLI:
// a CA, the apiserver's serving certificate for 127.0.0.1, its client
// certificate towards kubelets, a service-account
// signing key pair, and static bearer tokens for the components and the admin.
import { join } from "node:path";

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
}

async function openssl(args: string[], cwd: string): Promise<void> {
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
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function createPki(dir: string): Promise<Pki> {
  await Deno.mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  await openssl(["genrsa", "-out", "ca.key", "2048"], dir);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=kubetask-test-ca",
      "-days",
      "30",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  await openssl(["genrsa", "-out", "apiserver.key", "2048"], dir);
  await openssl([
    "req",
    "-new",
    "-key",
    "apiserver.key",
    "-subj",
    "/CN=kube-apiserver",
    "-out",
    "apiserver.csr",
  ], dir);
  await Deno.writeTextFile(
    p("apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "apiserver.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      "apiserver.ext",
      "-out",
      "apiserver.crt",
    ],
    dir,
  );
  await openssl(["genrsa", "-out", "kubelet-client.key", "2048"], dir);
  await openssl([
    "req",
    "-new",
    "-key",
    "kubelet-client.key",
    "-subj",
    "/O=system:masters/CN=kube-apiserver-kubelet-client",
    "-out",
    "kubelet-client.csr",
  ], dir);
  await Deno.writeTextFile(p("kubelet-client.ext"), "extendedKeyUsage=clientAuth\n");
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "kubelet-client.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "30",
      "-extfile",
      "kubelet-client.ext",
      "-out",
      "kubelet-client.crt",
    ],
    dir,
  );
  await openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  await openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);

  // One static bearer token (user, uid, groups) shared by the admin and the
  // components: this cluster exists only for tests on loopback.
  const adminToken = randomToken();
  await Deno.writeTextFile(p("tokens.csv"), `${adminToken},admin,admin-uid,"system:masters"\n`);
  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    servingCert: p("apiserver.crt"),
    servingKey: p("apiserver.key"),
    serviceAccountKey: p("sa.key"),
    serviceAccountPub: p("sa.pub"),
    tokenFile: p("tokens.csv"),
    adminToken,
    kubeletClientCert: p("kubelet-client.crt"),
    kubeletClientKey: p("kubelet-client.key"),
  };
}
