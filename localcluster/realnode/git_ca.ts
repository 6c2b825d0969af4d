// A CA that the local git image trusts, kept beside the images, so an e2e
// test can serve a repository over https on the node's bridge.
import { join } from "node:path";
import { cacheDir } from "../paths.ts";
import { createCa, signCertificate } from "../pki.ts";
import { exists } from "../files.ts";

export interface GitCa {
  cert: string;
  key: string;
}

export async function ensureGitCa(): Promise<GitCa> {
  const dir = join(cacheDir(), "images", "git-ca");
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  if (await exists(ca.cert)) return ca;
  return await createCa(dir, "ca", "kubetask-local-git-ca", 3650);
}

/** A serving certificate for `ip` signed by the git CA, written into `dir`. */
export async function gitServingCert(dir: string, ip: string): Promise<GitCa> {
  return await signCertificate(
    dir,
    "git",
    "/CN=git",
    `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`,
    await ensureGitCa(),
    2,
  );
}
