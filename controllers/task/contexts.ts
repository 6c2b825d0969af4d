// Resolves ContextMounts (Agent's, then Task's) into what the agent pod needs:
// text appended to task.md, files and directories from the Task's ConfigMap,
// or Git checkouts made by an init container (the operator never clones).
// A Context of another namespace is used only where a ContextGrant there allows.
import {
  type ConfigMapContext,
  type Context,
  context as contextSchema,
  type ContextMount,
  type GitContext,
} from "../../api/v1alpha1/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { grantsAccess } from "./grants.ts";
import { type AppendedContext, defuseFraming } from "./taskmd.ts";

interface Source {
  name: string;
  namespace: string;
}

export type ResolvedContext =
  | ({ kind: "append" } & AppendedContext)
  | (Source & { kind: "file"; mountPath: string; text?: string; base64?: string })
  | (Source & {
    kind: "directory";
    mountPath: string;
    data: Record<string, string>;
    binaryData: Record<string, string>;
  })
  | (Source & { kind: "git"; mountPath: string; git: GitContext });

export type ContextFailureReason =
  | "ContextNotFound"
  | "ConfigMapNotFound"
  | "ConfigMapKeyNotFound"
  | "InvalidContext";

/** A Context that cannot be used; the Task fails with `reason`. */
export class ContextError extends Error {
  constructor(readonly reason: ContextFailureReason, message: string) {
    super(message);
  }
}

/** Reads a Context or ConfigMap (undefined when absent) and the grants beside a Context. */
export interface ContextReader {
  context(namespace: string, name: string): Promise<KubeObject | undefined>;
  configMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  /** The ContextGrants of a namespace. */
  grants(namespace: string): KubeObject[];
}

/**
 * One message for "absent" and "not shared with you": a Task must not learn
 * which Contexts exist in a namespace that has not granted it anything.
 */
function notFound(mount: ContextMount, namespace: string, taskNamespace: string): ContextError {
  const where = `Context "${mount.name}" not found in namespace "${namespace}"`;
  return new ContextError(
    "ContextNotFound",
    namespace === taskNamespace ? where : `${where}, or not shared with namespace ` +
      `"${taskNamespace}" (a ContextGrant in "${namespace}" must list it)`,
  );
}

/** Absolute mount path; relative ones are taken relative to the workspace. */
export function absoluteMountPath(mountPath: string, workspaceDir: string): string {
  if (mountPath.startsWith("/")) return mountPath;
  return `${workspaceDir.replace(/\/+$/, "")}/${mountPath}`;
}

/** Agent contexts first, then Task contexts (the spec's priority order). */
export async function resolveContexts(
  mounts: ContextMount[],
  taskNamespace: string,
  workspaceDir: string,
  reader: ContextReader,
): Promise<ResolvedContext[]> {
  const resolved: ResolvedContext[] = [];
  for (const mount of mounts) {
    const namespace = mount.namespace || taskNamespace;
    const permitted = namespace === taskNamespace ||
      grantsAccess(reader.grants(namespace), mount.name, taskNamespace);
    // Not permitted: not even read, so nothing of it can leak into an error.
    const raw = permitted ? await reader.context(namespace, mount.name) : undefined;
    if (!raw) throw notFound(mount, namespace, taskNamespace);
    const parsed = contextSchema.safeParse(raw);
    if (!parsed.success) {
      throw new ContextError("InvalidContext", `Context "${namespace}/${mount.name}" is invalid`);
    }
    const mountPath = mount.mountPath
      ? absoluteMountPath(mount.mountPath, workspaceDir)
      : undefined;
    if (parsed.data.spec.git?.secretRef && namespace !== taskNamespace) {
      // The Secret would be looked up in the Task's namespace, not the
      // Context's: a Secret is never used across namespaces.
      throw new ContextError(
        "InvalidContext",
        `Context "${namespace}/${mount.name}" is a Git context with a secretRef; it can only be ` +
          `used by Tasks in namespace "${namespace}" (Secrets are never used across namespaces)`,
      );
    }
    const cm = parsed.data.spec.type === "ConfigMap" && parsed.data.spec.configMap
      ? await reader.configMap(namespace, parsed.data.spec.configMap.name)
      : undefined;
    const one = resolveContext(parsed.data, namespace, mountPath, cm);
    if (one) resolved.push(one);
  }
  return resolved;
}

/**
 * Pure: one Context (plus its ConfigMap when it has one) to what the pod gets.
 * Returns undefined for an optional ConfigMap (or key) that is absent.
 */
export function resolveContext(
  ctx: Context,
  namespace: string,
  mountPath: string | undefined,
  configMap: KubeObject | undefined,
): ResolvedContext | undefined {
  const name = ctx.metadata.name ?? "";
  const where = `Context "${namespace}/${name}"`;
  switch (ctx.spec.type) {
    case "Inline": {
      if (!ctx.spec.inline) {
        throw new ContextError("InvalidContext", `${where} has type Inline but no inline`);
      }
      const content = ctx.spec.inline.content;
      return mountPath
        ? { kind: "file", name, namespace, mountPath, text: content }
        : { kind: "append", name, namespace, type: "Inline", content };
    }
    case "ConfigMap": {
      if (!ctx.spec.configMap) {
        throw new ContextError("InvalidContext", `${where} has type ConfigMap but no configMap`);
      }
      return fromConfigMap(ctx.spec.configMap, name, namespace, mountPath, configMap);
    }
    case "Git": {
      if (!ctx.spec.git) {
        throw new ContextError("InvalidContext", `${where} has type Git but no git`);
      }
      if (!mountPath) {
        throw new ContextError(
          "InvalidContext",
          `${where} is a Git context and needs a mountPath (the operator does not clone repositories)`,
        );
      }
      return { kind: "git", name, namespace, mountPath, git: ctx.spec.git };
    }
  }
}

function fromConfigMap(
  ref: ConfigMapContext,
  name: string,
  namespace: string,
  mountPath: string | undefined,
  configMap: KubeObject | undefined,
): ResolvedContext | undefined {
  if (!configMap) {
    if (ref.optional) return undefined;
    throw new ContextError(
      "ConfigMapNotFound",
      `ConfigMap "${ref.name}" (Context "${name}") not found in namespace "${namespace}"`,
    );
  }
  const data: Record<string, string> = configMap.data ?? {};
  const binaryData: Record<string, string> = configMap.binaryData ?? {};
  if (ref.key !== undefined) {
    const text = data[ref.key];
    const base64 = binaryData[ref.key];
    if (text === undefined && base64 === undefined) {
      if (ref.optional) return undefined;
      throw new ContextError(
        "ConfigMapKeyNotFound",
        `Key "${ref.key}" not found in ConfigMap "${namespace}/${ref.name}" (Context "${name}")`,
      );
    }
    if (mountPath) return { kind: "file", name, namespace, mountPath, text, base64 };
    if (text === undefined) {
      throw new ContextError(
        "InvalidContext",
        `Key "${ref.key}" of ConfigMap "${namespace}/${ref.name}" is binary and needs a mountPath`,
      );
    }
    return { kind: "append", name, namespace, type: "ConfigMap", content: text };
  }
  if (mountPath) return { kind: "directory", name, namespace, mountPath, data, binaryData };
  // A whole ConfigMap appended to task.md: every text key as a <file> block.
  const content = Object.keys(data).sort()
    .map((key) => `<file name="${key}">\n${defuseFraming(data[key].replace(/\n+$/, ""))}\n</file>`)
    .join("\n");
  return { kind: "append", name, namespace, type: "ConfigMap", content, framed: true };
}
