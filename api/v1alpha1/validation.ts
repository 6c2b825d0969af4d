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
