// A CA that the local git image trusts, kept beside the images, so an e2e
// test can serve a repository over https on the node's bridge.
import { join } from "node:path";
import { cacheDir } from "../paths.ts";

export interface GitCa {
  cert: string;
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

export async function ensureGitCa(): Promise<GitCa> {
  const dir = join(cacheDir(), "images", "git-ca");
  const ca = { cert: join(dir, "ca.crt"), key: join(dir, "ca.key") };
  if (await Deno.stat(ca.cert).then(() => true, () => false)) return ca;
  await Deno.mkdir(dir, { recursive: true });
  await openssl(["genrsa", "-out", "ca.key", "2048"], dir);
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-subj",
      "/CN=kubetask-local-git-ca",
      "-days",
      "3650",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  return ca;
}

/** A serving certificate for `ip` signed by the git CA, written into `dir`. */
export async function gitServingCert(
  dir: string,
  ip: string,
): Promise<{ cert: string; key: string }> {
  const ca = await ensureGitCa();
  await openssl(["genrsa", "-out", "git.key", "2048"], dir);
  await openssl(["req", "-new", "-key", "git.key", "-subj", "/CN=git", "-out", "git.csr"], dir);
  await Deno.writeTextFile(
    join(dir, "git.ext"),
    `subjectAltName=IP:${ip}\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "git.csr",
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "git.ext",
      "-out",
      "git.crt",
    ],
    dir,
  );
  return { cert: join(dir, "git.crt"), key: join(dir, "git.key") };
}
