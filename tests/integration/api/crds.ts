// Shared setup for the API tests: install the generated CRDs (idempotent, and
// shared with everyone else's tests, so never deleted) and create objects.
import { kubectl } from "../env.ts";
import { renderCrdFiles } from "../../../api/crdgen/render.ts";

/** Applies the generated CRDs and waits until the apiserver serves every kind. */
export async function installCrds(): Promise<void> {
  await kubectl(["apply", "-f", "-"], [...renderCrdFiles().values()].join("\n---\n"));
  const names = [...renderCrdFiles().keys()].map((file) => `crd/${file.replace(/\.yaml$/, "")}`);
  await kubectl(["wait", "--for", "condition=Established", "--timeout=60s", ...names]);
}

/** Result of `kubectl create`: the stored object, or the apiserver's error text. */
export type CreateResult = { ok: true; object: Record<string, unknown> } | {
  ok: false;
  error: string;
};

/** Creates the YAML in `namespace` (dry-run keeps nothing, but validates fully). */
export async function create(
  namespace: string,
  yaml: string,
  dryRun = false,
): Promise<CreateResult> {
  const args = ["create", "-n", namespace, "-o", "json", "-f", "-"];
  if (dryRun) args.push("--dry-run=server");
  try {
    return { ok: true, object: JSON.parse(await kubectl(args, yaml)) };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}
