// Converts a zod schema into a structural OpenAPI v3 schema as the apiserver
// requires for CRDs: every node has a type, unknown content is marked with
// x-kubernetes-preserve-unknown-fields, and nothing uses anyOf/oneOf/$ref.
import { z } from "zod";
import { type OpenApiSchema, PASSTHROUGH_META_KEYS } from "./schema-types.ts";

// zod keeps a schema's definition in `_zod.def`; these are the parts we read.
interface ZodDef {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  format?: string;
  innerType?: z.ZodType;
  defaultValue?: unknown;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  entries?: Record<string, string | number>;
  values?: unknown[];
}

interface CheckDef {
  check: string;
  value?: number;
  inclusive?: boolean;
  minimum?: number;
  maximum?: number;
  format?: string;
  pattern?: RegExp;
}

const defOf = (schema: z.ZodType): ZodDef => schema._zod.def as unknown as ZodDef;

/** Wrappers that only change presence (optional) or add a default. */
const WRAPPERS = new Set(["optional", "default", "prefault", "readonly"]);

/** Converts `schema` (and everything below it) to an OpenAPI v3 schema. */
export function zodToOpenApi(schema: z.ZodType): OpenApiSchema {
  // Peel wrappers outside-in; outer metadata and defaults win over inner ones.
  const layers: z.ZodType[] = [];
  let core = schema;
  while (WRAPPERS.has(defOf(core).type)) {
    layers.push(core);
    core = defOf(core).innerType!;
  }
  layers.push(core);

  const out: OpenApiSchema = {};
  const description = firstMeta(layers, "description");
  if (typeof description === "string") out.description = description;
  Object.assign(out, convertCore(core));
  const withDefault = layers.find((l) => defOf(l).type === "default");
  if (withDefault) out.default = defOf(withDefault).defaultValue;
  for (const key of PASSTHROUGH_META_KEYS) {
    const value = firstMeta(layers, key);
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** True when the object key may be left out (optional or defaulted). */
export function isOptional(schema: z.ZodType): boolean {
  // optin is "optional" for .optional() and "defaulted" for .default().
  return schema._zod.optin !== undefined;
}

function firstMeta(layers: z.ZodType[], key: string): unknown {
  for (const layer of layers) {
    const meta = z.globalRegistry.get(layer) as Record<string, unknown> | undefined;
    if (meta?.[key] !== undefined) return meta[key];
  }
  return undefined;
}

function convertCore(schema: z.ZodType): OpenApiSchema {
  const def = defOf(schema);
  const checks = (def.checks ?? []).map((c) => c._zod.def);
  switch (def.type) {
    case "string":
      return {
        type: "string",
        ...lengthBounds(checks, "minLength", "maxLength"),
        ...pattern(checks),
      };
    case "number":
      return numberSchema(def, checks);
    case "boolean":
      return { type: "boolean" };
    case "enum":
      return enumSchema(Object.values(def.entries!));
    case "literal":
      return enumSchema(def.values!);
    case "array":
      return {
        type: "array",
        ...lengthBounds(checks, "minItems", "maxItems"),
        items: zodToOpenApi(def.element!),
      };
    case "record":
      return {
        type: "object",
        ...lengthBounds(checks, "minProperties", "maxProperties"),
        additionalProperties: zodToOpenApi(def.valueType!),
      };
    case "object":
      return objectSchema(def);
    case "unknown":
    case "any":
      return { "x-kubernetes-preserve-unknown-fields": true };
    default:
      throw new Error(`zod type "${def.type}" has no structural OpenAPI form`);
  }
}

function objectSchema(def: ZodDef): OpenApiSchema {
  const out: OpenApiSchema = { type: "object" };
  const entries = Object.entries(def.shape ?? {});
  if (entries.length > 0) {
    out.properties = Object.fromEntries(entries.map(([k, v]) => [k, zodToOpenApi(v)]));
    const required = entries.filter(([, v]) => !isOptional(v)).map(([k]) => k);
    if (required.length > 0) out.required = required;
  }
  const catchall = def.catchall && defOf(def.catchall).type;
  if (catchall === "unknown" || catchall === "any") {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  } else if (catchall && catchall !== "never") {
    throw new Error(`object catchall "${catchall}" is not supported; use z.record`);
  }
  return out;
}

function numberSchema(def: ZodDef, checks: CheckDef[]): OpenApiSchema {
  const format = def.format ?? checks.find((c) => c.check === "number_format")?.format;
  const out: OpenApiSchema = format?.includes("int")
    ? { type: "integer", format: format === "int32" ? "int32" : "int64" }
    : { type: "number" };
  for (const c of checks) {
    if (c.check === "greater_than") {
      out.minimum = c.value;
      if (!c.inclusive) out.exclusiveMinimum = true;
    } else if (c.check === "less_than") {
      out.maximum = c.value;
      if (!c.inclusive) out.exclusiveMaximum = true;
    }
  }
  return out;
}

function enumSchema(values: unknown[]): OpenApiSchema {
  const kinds = new Set(values.map((v) => typeof v));
  if (kinds.size !== 1) throw new Error(`enum mixes types: ${[...kinds].join(", ")}`);
  const kind = [...kinds][0];
  const type = kind === "string" ? "string" : kind === "boolean" ? "boolean" : "integer";
  return { type, enum: values };
}

function lengthBounds<Min extends keyof OpenApiSchema, Max extends keyof OpenApiSchema>(
  checks: CheckDef[],
  minKey: Min,
  maxKey: Max,
): Partial<OpenApiSchema> {
  const out: Record<string, number> = {};
  for (const c of checks) {
    if (c.check === "min_length" || c.check === "min_size") out[minKey] = c.minimum!;
    if (c.check === "max_length" || c.check === "max_size") out[maxKey] = c.maximum!;
    if (c.check === "length_equals") {
      out[minKey] = out[maxKey] = (c as unknown as { length: number }).length;
    }
  }
  return out;
}

function pattern(checks: CheckDef[]): Partial<OpenApiSchema> {
  const regex = checks.find((c) => c.check === "string_format" && c.format === "regex")?.pattern;
  return regex ? { pattern: regex.source } : {};
}
