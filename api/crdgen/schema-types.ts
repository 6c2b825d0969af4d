// The subset of apiextensions.k8s.io/v1 JSONSchemaProps the generator emits.

import type { ValidationRule } from "../v1alpha1/validation.ts";

export interface OpenApiSchema {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  format?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: OpenApiSchema;
  items?: OpenApiSchema;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  pattern?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: ValidationRule[];
}

/**
 * Keys a zod schema may carry in `.meta()` that are copied into the CRD schema
 * as they are (besides `description`). Declared here so api/v1alpha1 and the
 * generator agree on the spelling.
 */
export const PASSTHROUGH_META_KEYS = [
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "format",
  "maxProperties",
] as const;
