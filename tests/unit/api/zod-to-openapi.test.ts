// The zod → structural OpenAPI converter behind the CRDs.
import assert from "assert";
import { z } from "zod";
import { zodToOpenApi } from "../../../api/crdgen/zod-to-openapi.ts";
import { celRules } from "../../../api/v1alpha1/validation.ts";

Deno.test("objects list required keys; optional and defaulted keys are not required", () => {
  const schema = zodToOpenApi(z.object({
    name: z.string().min(1).max(10).describe("The name."),
    note: z.string().optional(),
    count: z.int32().min(0).default(3),
  }));
  assert.deepEqual(schema, {
    type: "object",
    properties: {
      name: { description: "The name.", type: "string", minLength: 1, maxLength: 10 },
      note: { type: "string" },
      count: { type: "integer", format: "int32", minimum: 0, default: 3 },
    },
    required: ["name"],
  });
});

Deno.test("integers are int32 for z.int32() and int64 for z.number().int(); other numbers stay number", () => {
  assert.deepEqual(zodToOpenApi(z.int32()), { type: "integer", format: "int32" });
  assert.deepEqual(zodToOpenApi(z.number().int().min(1)), {
    type: "integer",
    format: "int64",
    minimum: 1,
  });
  assert.deepEqual(zodToOpenApi(z.number().lt(2)), {
    type: "number",
    maximum: 2,
    exclusiveMaximum: true,
  });
});

Deno.test("maps, arrays, enums and loose objects become structural schemas", () => {
  assert.deepEqual(zodToOpenApi(z.record(z.string(), z.string())), {
    type: "object",
    additionalProperties: { type: "string" },
  });
  assert.deepEqual(zodToOpenApi(z.array(z.boolean()).max(4)), {
    type: "array",
    maxItems: 4,
    items: { type: "boolean" },
  });
  assert.deepEqual(zodToOpenApi(z.enum(["Allow", "Forbid"]).default("Forbid")), {
    type: "string",
    enum: ["Allow", "Forbid"],
    default: "Forbid",
  });
  assert.deepEqual(zodToOpenApi(z.looseObject({})), {
    type: "object",
    "x-kubernetes-preserve-unknown-fields": true,
  });
});

Deno.test("CEL rules and list types attached with .meta() are copied, with the description", () => {
  const schema = zodToOpenApi(
    z.array(z.object({ name: z.string() })).optional().describe("Items.").meta({
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      ...celRules({ rule: "size(self) < 5", message: "at most 4 items" }),
    }),
  );
  assert.equal(schema.description, "Items.");
  assert.equal(schema["x-kubernetes-list-type"], "map");
  assert.deepEqual(schema["x-kubernetes-list-map-keys"], ["name"]);
  assert.deepEqual(schema["x-kubernetes-validations"], [{
    rule: "size(self) < 5",
    message: "at most 4 items",
  }]);
});

Deno.test("types without a structural form are refused instead of silently dropped", () => {
  assert.throws(() => zodToOpenApi(z.union([z.string(), z.number()])), /union/);
});
