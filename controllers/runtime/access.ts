// How the operator reaches the apiserver: the server URL, the CA to trust,
// a client certificate and the headers that authenticate it.
//
// client-node resolves this (kubeconfig, in-cluster, exec and auth-provider
// plugins) in a subprocess that exits as soon as it has answered, so its
// memory is never resident. Credentials that expire are resolved again on a
// 401 and every few minutes; an in-cluster token file is re-read directly.
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_RUN_FLAGS } from "./runtime_flags.ts";

export interface ClusterAccess {
  server: string;
  /** PEM bundle to trust (absent: the system's roots). */
  caData?: string;
  certData?: string;
  keyData?: string;
  skipTLSVerify?: boolean;
  /** Authorization and any other headers every request carries. */
  headers: Record<string, string>;
  /** A bearer token file to re-read (in-cluster service account token). */
  tokenFile?: string;
  /** The credentials come from a plugin and expire: resolve again on a 401. */
  expiring?: boolean;
  /** The current context's namespace (the command line's default). */
  namespace?: string;
}

export interface AccessOptions {
  /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config, or in-cluster. */
  kubeconfig?: string;
  context?: string;
}

/** The hidden subcommand main.ts routes to the resolver in the shipped forms. */
export const RESOLVE_ACCESS_COMMAND = "__resolve-access";

/** As client-go and client-node: the kubelet rewrites the file well before the old token expires. */
export const TOKEN_FILE_REREAD_MS = 60_000;
const EXPIRING_REFRESH_MS = 5 * 60_000;
const MIN_REFRESH_INTERVAL_MS = 5_000;

/** Where the operator runs from, as far as running itself is concerned. */
export interface SelfLocation {
  /** Deno.execPath(): `deno`, or the compiled binary. */
  execPath: string;
  /** Deno.mainModule. */
  mainModule: string;
  /** This module's URL (import.meta.url). */
  moduleUrl: string;
}

const here = (): SelfLocation => ({
  execPath: Deno.execPath(),
  mainModule: Deno.mainModule,
  moduleUrl: import.meta.url,
});

/**
 * The command that runs the resolver. In each shipped form the operator runs
 * itself with the hidden subcommand: a `deno compile`d binary (not called
 * "deno") directly, with the permissions compiled into it; a bundle (this
 * module inlined into the main one, so their URLs are the same) through
 * `deno run` with the same flags the image starts it with. From source, Deno
 * runs access_resolver.ts beside this file.
 */
export function resolverCommand(opts: AccessOptions, self: SelfLocation = here()): string[] {
  const args = [opts.kubeconfig ?? "", opts.context ?? ""];
  if (!/^deno(\.exe)?$/.test(basename(self.execPath))) {
    return [self.execPath, RESOLVE_ACCESS_COMMAND, ...args];
  }
  if (self.moduleUrl === self.mainModule) {
    return [
      self.execPath,
      "run",
      "--quiet",
      ...BUNDLE_RUN_FLAGS,
      fileURLToPath(self.mainModule),
      RESOLVE_ACCESS_COMMAND,
      ...args,
    ];
  }
  const module = fileURLToPath(new URL("./access_resolver.ts", self.moduleUrl));
  return [self.execPath, "run", "--quiet", "-A", module, ...args];
}

/** Runs the resolver subprocess once. */
export async function resolveClusterAccess(opts: AccessOptions = {}): Promise<ClusterAccess> {
  const [cmd, ...args] = resolverCommand(opts);
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (out.code !== 0) throw new Error(`cannot load cluster credentials: ${stderr}`);
  const access = JSON.parse(new TextDecoder().decode(out.stdout)) as ClusterAccess;
  if (access.skipTLSVerify) {
    throw new Error("insecure-skip-tls-verify is not supported: give the cluster's CA instead");
  }
  return access;
}

/** Current credentials for each request, refreshed when they may have changed. */
export class AccessProvider {
  private access: ClusterAccess;
  private token?: { value: string; readAt: number };
  private resolvedAt: number;
  private refreshing?: Promise<void>;

  constructor(
    access: ClusterAccess,
    private readonly opts: AccessOptions = {},
    /** The clock (a test's own, to step past the re-read interval). */
    private readonly now: () => number = Date.now,
  ) {
    this.access = access;
    this.resolvedAt = now();
  }

  static async load(opts: AccessOptions = {}): Promise<AccessProvider> {
    return new AccessProvider(await resolveClusterAccess(opts), opts);
  }

  /** Server, TLS material and headers for the next request. */
  async current(): Promise<ClusterAccess> {
    if (this.access.expiring && this.now() - this.resolvedAt > EXPIRING_REFRESH_MS) {
      await this.refresh();
    }
    if (!this.access.tokenFile) return this.access;
    // Re-read, never cached for good: a rotated token (the kubelet swaps the file) is used
    // within the interval, or at once after a 401.
    if (!this.token || this.now() - this.token.readAt > TOKEN_FILE_REREAD_MS) {
      const value = (await Deno.readTextFile(this.access.tokenFile)).trim();
      this.token = { value, readAt: this.now() };
    }
    return {
      ...this.access,
      headers: { ...this.access.headers, Authorization: `Bearer ${this.token.value}` },
    };
  }

  /** After a 401: true if something was refreshed, so the request is worth one retry. */
  async refreshAfterUnauthorized(): Promise<boolean> {
    if (this.access.tokenFile) {
      this.token = undefined;
      return true;
    }
    if (!this.access.expiring || this.now() - this.resolvedAt < MIN_REFRESH_INTERVAL_MS) {
      return false;
    }
    await this.refresh();
    return true;
  }

  private refresh(): Promise<void> {
    // One resolver at a time, however many requests noticed.
    return this.refreshing ??= resolveClusterAccess(this.opts)
      .then((access) => {
        this.access = access;
        this.resolvedAt = this.now();
      })
      .finally(() => (this.refreshing = undefined));
  }
}
