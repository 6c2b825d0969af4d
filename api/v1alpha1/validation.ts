// Helpers that attach apiserver-side checks to zod schemas via `.meta()`.
// api/gen-crds.ts copies them into the CRDs, so `kubectl apply` rejects bad
// objects with these messages before any controller sees them.
import { z } from "zod";

/** A CEL rule (x-kubernetes-validations) checked by the apiserver on create and update. */
export interface ValidationRule {
  rule: string;
  /** Shown to the user; say what is wrong and how to fix it. */
  message: string;
  /** Path (relative to the rule's node) the error is reported on, e.g. ".inline". */
  fieldPath?: string;
  reason?:
    | "FieldValueInvalid"
    | "FieldValueForbidden"
    | "FieldValueRequired"
    | "FieldValueDuplicate";
}

/** `.meta()` payload attaching CEL rules to a schema. */
export function celRules(
  ...rules: ValidationRule[]
): { "x-kubernetes-validations": ValidationRule[] } {
  return { "x-kubernetes-validations": rules };
}

/** Paths longer than this are rejected; the bound also keeps CEL cost estimates low. */
export const MAX_PATH_LENGTH = 4096;

/**
 * An absolute file-system path (`field` names it in the error message). With
 * `allowEmpty`, "" is accepted too and means the same as leaving it out.
 */
export function absolutePath(field: string, { allowEmpty = false } = {}) {
  const base = allowEmpty ? z.string() : z.string().min(1);
  return base.max(MAX_PATH_LENGTH).meta(celRules({
    rule: allowEmpty ? "self == '' || self.startsWith('/')" : "self.startsWith('/')",
    message: `${field} must be an absolute path starting with "/"`,
  }));
}

/**
 * A mount path a Task supplies: absolute (or "" for none) and without ".."
 * segments, so what it names is what the controller's prefix check sees.
 */
export function taskMountPath(field: string) {
  const absolute = `${field} must be an absolute path starting with "/"`;
  const climbs = `${field} must not contain ".." segments`;
  return z.string().max(MAX_PATH_LENGTH)
    .refine((v) => !v.split("/").includes(".."), { message: climbs })
    .meta(celRules(
      { rule: "self == '' || self.startsWith('/')", message: absolute },
      { rule: "!self.matches('(^|/)[.][.](/|$)')", message: climbs },
    ));
}

// Names that end up in API request paths, volumes and environments. Each is
// checked twice: by the apiserver (a CEL rule with a message a user can act
// on) and by the controller (the same test as a zod refinement), so a bad
// value never reaches a URL even if the CRD was installed without rules.

const DNS_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const OBJECT_NAME = new RegExp(`^${DNS_LABEL}([.]${DNS_LABEL})*$`);
const NAMESPACE_NAME = new RegExp(`^${DNS_LABEL}$`);
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function named(pattern: RegExp, max: number, field: string, what: string) {
  const message = `${field} must be ${what}`;
  return z.string().min(1).max(max)
    .refine((v) => pattern.test(v) && v !== "." && v !== "..", { message })
    .meta(celRules({
      rule: `self.matches('${pattern.source}') && self != '.' && self != '..'`,
      message,
    }));
}

/** A Kubernetes object name (DNS-1123 subdomain): ConfigMaps, Secrets, Contexts, Agents. */
export function objectName(field: string) {
  return named(
    OBJECT_NAME,
    253,
    field,
    'a Kubernetes object name: lowercase letters, digits, "-" and ".", ' +
      'starting and ending with a letter or digit (e.g. "team-guides")',
  );
}

/** A namespace name (DNS-1123 label). */
export function namespaceName(field: string) {
  return named(
    NAMESPACE_NAME,
    63,
    field,
    'a namespace name: at most 63 lowercase letters, digits and "-", ' +
      "starting and ending with a letter or digit",
  );
}

/**
 * The name of an object that is also used as a label value (a DNS-1123 label,
 * at most 63): a Kueue LocalQueue or WorkloadPriorityClass.
 */
export function labelName(field: string, what: string) {
  return named(
    NAMESPACE_NAME,
    63,
    field,
    `${what}: at most 63 lowercase letters, digits and "-", ` +
      "starting and ending with a letter or digit",
  );
}

/** A key of a ConfigMap or Secret. */
export function dataKey(field: string) {
  return named(
    DATA_KEY,
    253,
    field,
    'a ConfigMap or Secret key: letters, digits, "-", "_" and "."',
  );
}

/** An environment variable name a shell can use. */
export function envVarName(field: string) {
  return named(
    ENV_NAME,
    256,
    field,
    'an environment variable name: letters, digits and "_", not starting with a digit ' +
      '(e.g. "GITHUB_TOKEN")',
  );
}

/** Bounds that keep a Task's generated ConfigMap (at most 1 MiB) and CEL costs small. */
export const MAX_TEXT_LENGTH = 256 * 1024;
export const MAX_CONTEXTS = 32;
export const MAX_CREDENTIALS = 32;

// Git: values that reach git's command line and the credential helper.

// Kept as strings: RegExp#source would escape "/" as "\/", which CEL refuses.
/** https:// without userinfo, or ssh:// with at most a user name; no spaces, no leading "-". */
const GIT_REPOSITORY = "^(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?|" +
  "ssh://([A-Za-z0-9._-]+@)?[A-Za-z0-9.-]+(:[0-9]{1,5})?)(/[-A-Za-z0-9._~%+/]*)?$";
/**
 * A repository host that is an IPv4 address no repository has (the
 * controller refuses these, and names resolving to them, again: egress/git.ts).
 */
const GIT_SPECIAL_HOST = "^(https|ssh)://([A-Za-z0-9._-]+@)?(0+|127|169[.]254)[.][0-9.]+(:|/|$)";
/** A branch, tag or commit: never an option (no leading "-"), no "..", no spaces. */
const GIT_REF = "^[A-Za-z0-9_][-A-Za-z0-9._/]*$";
/** A path inside the repository: relative, no ".." segment. */
const GIT_PATH = "^[-A-Za-z0-9._/]*$";

export function gitRepository() {
  const message = "git.repository must be an https:// URL without user or password, or an " +
    'ssh:// URL (e.g. "https://github.com/org/repo.git" or "ssh://git@github.com/org/repo.git"); ' +
    "put credentials in git.secretRef";
  const special = "git.repository must not name an unspecified (0.x), loopback (127.x) or " +
    "link-local (169.254.x, cloud metadata) address: a Restricted Agent's Task is let through " +
    "to its repository's host";
  return z.string().min(1).max(2048)
    .refine((v) => new RegExp(GIT_REPOSITORY).test(v), { message })
    .refine((v) => !new RegExp(GIT_SPECIAL_HOST).test(v), { message: special })
    .meta(celRules(
      { rule: `self.matches('${GIT_REPOSITORY}')`, message },
      { rule: `!self.matches('${GIT_SPECIAL_HOST}')`, message: special },
    ));
}

export function gitRef() {
  const message = 'git.ref must be a branch, tag or commit: letters, digits, "-", "_", "." and ' +
    '"/", not starting with "-" and without ".."';
  return z.string().min(1).max(255)
    .refine((v) => new RegExp(GIT_REF).test(v) && !v.includes(".."), { message })
    .meta(celRules({
      rule: `self.matches('${GIT_REF}') && !self.contains('..')`,
      message,
    }));
}

export function gitPath() {
  const message = 'git.path must be a path inside the repository: letters, digits, "-", "_", ' +
    '"." and "/", without ".." segments';
  return z.string().max(MAX_PATH_LENGTH)
    .refine((v) => new RegExp(GIT_PATH).test(v) && !v.split("/").includes(".."), { message })
    .meta(celRules({
      rule: `self.matches('${GIT_PATH}') && !self.matches('(^|/)[.][.](/|$)')`,
      message,
    }));
}

// Durations as Go and kubectl write them: "90s", "30m", "2h", "1h30m".
const DURATION = "^([0-9]{1,6}(h|m|s))+$";
const DURATION_UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000 };

/** Milliseconds of a duration matching `duration()`; NaN for anything else. */
export function parseDuration(value: string): number {
  if (!new RegExp(DURATION).test(value)) return NaN;
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/([0-9]+)(h|m|s)/g)) {
    ms += Number(n) * DURATION_UNIT_MS[unit];
  }
  return ms;
}

/** A positive duration such as "30m", "2h" or "1h30m" (`field` names it in the message). */
export function duration(field: string) {
  const message = `${field} must be a duration of hours, minutes and seconds such as ` +
    '"30m", "2h" or "1h30m", greater than zero';
  return z.string().min(2).max(32)
    .refine((v) => parseDuration(v) > 0, { message })
    .meta(celRules({
      rule: `self.matches('${DURATION}') && !self.matches('^(0+(h|m|s))+$')`,
      message,
    }));
}

/** A failed parse as one line a user can act on: "field.path: message; ...". */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
}
