// Context: reusable content for agents (inline text, a ConfigMap, a Git repo).
import { z } from "zod";
import { objectMeta } from "./common.ts";
import {
  celRules,
  dataKey,
  gitPath,
  gitRef,
  gitRepository,
  MAX_TEXT_LENGTH,
  objectName,
  type ValidationRule,
} from "./validation.ts";

export const CONTEXT_TYPES = ["Inline", "ConfigMap", "Git"] as const;
export const contextType = z.enum(CONTEXT_TYPES);
export type ContextType = z.infer<typeof contextType>;

export const inlineContext = z.object({
  content: z.string().max(MAX_TEXT_LENGTH).describe(
    "Content to mount as a file or append to task.md (at most 256 KiB).",
  ),
});

export const configMapContext = z.object({
  name: objectName("configMap.name").describe("Name of the ConfigMap in the Context's namespace."),
  key: dataKey("configMap.key").optional().describe(
    "One key to use; without it every key becomes a file.",
  ),
  optional: z.boolean().optional().describe("Whether the ConfigMap may be missing."),
});
export type ConfigMapContext = z.infer<typeof configMapContext>;

export const gitSecretReference = z.object({
  name: objectName("secretRef.name").describe(
    "Secret with Git credentials: keys username and password (HTTPS) or ssh-privatekey.",
  ),
});

/** More history than an agent needs is only a way to fill the node's disk. */
export const MAX_GIT_DEPTH = 1000;

export const gitContext = z.object({
  repository: gitRepository().describe(
    "Repository URL: https:// (no credentials in it) or ssh://.",
  ),
  path: gitPath().optional().describe("Path within the repository."),
  ref: gitRef().default("HEAD").describe("Branch, tag or commit SHA."),
  depth: z.number().int().min(1).max(MAX_GIT_DEPTH).default(1).describe(
    `Shallow clone depth: how many commits of history (default 1, at most ${MAX_GIT_DEPTH}).`,
  ),
  secretRef: gitSecretReference.optional(),
});
export type GitContext = z.infer<typeof gitContext>;

// Each type reads exactly one source field; a missing or extra source is a
// mistake the apiserver can catch before the controller tries to mount it.
const SOURCE_FIELDS: Record<ContextType, { field: string; needs: string }> = {
  Inline: { field: "inline", needs: "inline.content" },
  ConfigMap: { field: "configMap", needs: "configMap.name" },
  Git: { field: "git", needs: "git.repository" },
};

function sourceRules(): ValidationRule[] {
  return Object.entries(SOURCE_FIELDS).flatMap(([type, { field, needs }]) => [
    {
      rule: `self.type != '${type}' || has(self.${field})`,
      message: `type ${type} requires spec.${field} (set ${needs})`,
      fieldPath: `.${field}`,
      reason: "FieldValueRequired" as const,
    },
    {
      rule: `!has(self.${field}) || self.type == '${type}'`,
      message: `spec.${field} is only allowed when type is ${type}; remove it or change type`,
      fieldPath: `.${field}`,
      reason: "FieldValueForbidden" as const,
    },
  ]);
}

export const contextSpec = z.object({
  type: contextType.describe("Where the content comes from: Inline, ConfigMap or Git."),
  inline: inlineContext.optional(),
  configMap: configMapContext.optional(),
  git: gitContext.optional(),
}).meta(celRules(...sourceRules()));
export type ContextSpec = z.infer<typeof contextSpec>;

export const context = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: contextSpec,
});
export type Context = z.infer<typeof context>;
