import assert from "assert";
import {
  configMapNameFor,
  jobNameFor,
  jobPodsSelector,
  taskLabelValue,
} from "../../../controllers/task/names.ts";

Deno.test("names: short Task names are used as they are", () => {
  assert.equal(jobNameFor("fix-bug"), "fix-bug");
  assert.equal(configMapNameFor("fix-bug"), "fix-bug-context");
  assert.equal(taskLabelValue("fix-bug"), "fix-bug");
});

Deno.test("names: long Task names are cut to 63 chars with a stable hash, distinct per name", () => {
  const a = "a".repeat(70) + "-one";
  const b = "a".repeat(70) + "-two";
  for (const name of [jobNameFor(a), configMapNameFor(a), taskLabelValue(a)]) {
    assert.ok(name.length <= 63, name);
    assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  }
  assert.equal(jobNameFor(a), jobNameFor(a));
  assert.notEqual(jobNameFor(a), jobNameFor(b));
  assert.ok(configMapNameFor(a).endsWith("-context"));
});

Deno.test("names: a Job's pods are selected by the Job's uid, never by its name", () => {
  const job = { metadata: { name: "fix", uid: "uid-7" } };
  assert.equal(jobPodsSelector(job), "batch.kubernetes.io/controller-uid=uid-7");
});
