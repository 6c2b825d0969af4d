// The phase a Job puts its Task in, from the Job's status and conditions.
import assert from "assert";
import { jobPhase } from "../../../controllers/task/job_phase.ts";

Deno.test("job phase: a Job whose pod finished but is not yet Complete stays Running", () => {
  // What the Job controller shows while it counts the finished pod.
  assert.equal(jobPhase({ status: { active: 0, succeeded: 1 } }), "Running");
  assert.equal(
    jobPhase({ status: { active: 0, uncountedTerminatedPods: { succeeded: ["uid-1"] } } }),
    "Running",
  );
  assert.equal(
    jobPhase({ status: { conditions: [{ type: "SuccessCriteriaMet", status: "True" }] } }),
    "Running",
  );
  assert.equal(
    jobPhase({ status: { conditions: [{ type: "FailureTarget", status: "True" }] } }),
    "Running",
  );
});

Deno.test("job phase: from conditions and active pods", () => {
  assert.equal(jobPhase({}), "Pending");
  assert.equal(jobPhase({ status: { active: 1 } }), "Running");
  assert.equal(
    jobPhase({ status: { conditions: [{ type: "Complete", status: "True" }] } }),
    "Completed",
  );
  assert.equal(
    jobPhase({ status: { conditions: [{ type: "Failed", status: "True" }] } }),
    "Failed",
  );
  assert.equal(
    jobPhase({ status: { active: 1, conditions: [{ type: "Failed", status: "False" }] } }),
    "Running",
  );
});
