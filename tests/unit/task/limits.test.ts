// An Agent's maxTimeout and maxKeepAliveSeconds bound what its Tasks may ask for.
import assert from "assert";
import { limitProblem } from "../../../controllers/task/limits.ts";
import { timeoutSecondsOf } from "../../../controllers/task/timeout.ts";
import { makeAgent, makeTask } from "./fixtures.ts";

const hitl = (keepAliveSeconds: number) => ({
  humanInTheLoop: { enabled: true, keepAliveSeconds },
});

Deno.test("limits: a Task's timeout longer than the Agent's maxTimeout is refused, naming the field", () => {
  const agent = makeAgent({ maxTimeout: "2h" });
  assert.equal(limitProblem(makeTask({ timeout: "2h" }), agent), undefined);
  assert.equal(limitProblem(makeTask({ timeout: "90m" }), agent), undefined);
  assert.deepEqual(limitProblem(makeTask({ timeout: "2h1s" }), agent), {
    reason: "AgentLimitExceeded",
    message: 'spec.timeout "2h1s" is longer than Agent "default" allows (maxTimeout "2h"): ' +
      'ask for at most "2h"',
  });
  // The Agent's own default is checked too, and named as the Agent's.
  const own = limitProblem(makeTask(), makeAgent({ timeout: "3h", maxTimeout: "2h" }));
  assert.match(own!.message, /^Agent "default" spec.timeout \(the Task sets none\) "3h"/);
  // Without maxTimeout there is no bound.
  assert.equal(limitProblem(makeTask({ timeout: "999h" }), makeAgent()), undefined);
});

Deno.test("limits: a Task without a timeout gets the Agent's maxTimeout as its deadline", () => {
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent({ maxTimeout: "2h" })), 7200);
  assert.equal(timeoutSecondsOf(makeTask(), makeAgent({ timeout: "1h", maxTimeout: "2h" })), 3600);
  assert.equal(
    timeoutSecondsOf(makeTask({ timeout: "30m" }), makeAgent({ maxTimeout: "2h" })),
    1800,
  );
});

Deno.test("limits: keepAliveSeconds above the Agent's maxKeepAliveSeconds is refused", () => {
  const agent = makeAgent({ command: ["agent"], maxKeepAliveSeconds: 600 });
  assert.equal(limitProblem(makeTask(hitl(600)), agent), undefined);
  assert.deepEqual(limitProblem(makeTask(hitl(86400)), agent), {
    reason: "AgentLimitExceeded",
    message: 'spec.humanInTheLoop.keepAliveSeconds 86400 is more than Agent "default" allows ' +
      "(maxKeepAliveSeconds 600): ask for at most 600",
  });
  // Disabled: nothing is kept alive, nothing to bound.
  assert.equal(
    limitProblem(makeTask({ humanInTheLoop: { enabled: false, keepAliveSeconds: 86400 } }), agent),
    undefined,
  );
  // The Agent's own humanInTheLoop, when the Task has none.
  const own = makeAgent({ command: ["agent"], maxKeepAliveSeconds: 600, ...hitl(3600) });
  assert.match(
    limitProblem(makeTask(), own)!.message,
    /^Agent "default" spec.humanInTheLoop.keepAliveSeconds \(the Task sets none\) 3600/,
  );
});
