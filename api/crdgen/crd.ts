// Builds an apiextensions.k8s.io/v1 CustomResourceDefinition for one kind.
import type { z } from "zod";
import { GROUP, VERSION } from "../v1alpha1/common.ts";
import type { ValidationRule } from "../v1alpha1/validation.ts";
import type { OpenApiSchema } from "./schema-types.ts";
import { isOptional, zodToOpenApi } from "./zod-to-openapi.ts";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything about one kind that its CRD needs beyond the zod schema. */
export interface KindDefinition {
  kind: string;
  plural: string;
  shortNames: string[];
  description: string;
  /** The zod schema of the whole object; its `spec` and `status` become the CRD schema. */
  schema: z.ZodObject;
  /** Enables the status subresource (status is then written only by the controller). */
  hasStatus: boolean;
  /** Columns printed by `kubectl get`, before the Age column every kind gets. */
  columns: PrinterColumn[];
  /** CEL rules on the whole object (the only place that can see metadata.name). */
  rules?: ValidationRule[];
  /** Cluster: one object for the whole cluster, defined by its administrators (default Namespaced). */
  scope?: "Namespaced" | "Cluster";
}

export const CATEGORIES = ["kubetask"];

const AGE_COLUMN: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
};

// Wording of the standard fields as Kubernetes documents them.
const API_VERSION_FIELD: OpenApiSchema = {
  description: "APIVersion defines the versioned schema of this representation of an object.",
  type: "string",
};
const KIND_FIELD: OpenApiSchema = {
  description: "Kind is a string value representing the REST resource this object represents.",
  type: "string",
};

export function crdName(def: KindDefinition): string {
  return `${def.plural}.${GROUP}`;
}

export function buildCrd(def: KindDefinition): Record<string, unknown> {
  const shape = def.schema.shape as Record<string, z.ZodType>;
  const properties: Record<string, OpenApiSchema> = {
    apiVersion: API_VERSION_FIELD,
    kind: KIND_FIELD,
    // The apiserver owns metadata's schema; CRDs may not describe it further.
    metadata: { type: "object" },
    spec: zodToOpenApi(shape.spec),
  };
  if (shape.status) properties.status = zodToOpenApi(shape.status);
  const required = ["spec", "status"].filter((k) => shape[k] && !isOptional(shape[k]));

  const openAPIV3Schema: OpenApiSchema = {
    description: def.description,
    type: "object",
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(def.rules?.length ? { "x-kubernetes-validations": def.rules } : {}),
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(def) },
    spec: {
      group: GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        shortNames: def.shortNames,
        categories: CATEGORIES,
      },
      scope: def.scope ?? "Namespaced",
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        ...(def.hasStatus ? { subresources: { status: {} } } : {}),
        additionalPrinterColumns: [...def.columns, AGE_COLUMN],
        schema: { openAPIV3Schema },
      }],
    },
  };
}
