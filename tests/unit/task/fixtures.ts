// Parsed Task/Agent fixtures for the Task controller's unit tests.
import { type Agent, agent, type Task, task } from "../../../api/v1alpha1/index.ts";

export function makeTask(spec: Record<string, unknown> = {}, name = "fix-bug"): Task {
  return task.parse({
    metadata: { name, namespace: "team-a", uid: "uid-123", generation: 1 },
    spec,
  });
}

export function makeAgent(spec: Record<string, unknown> = {}): Agent {
  return agent.parse({
    metadata: { name: "default", namespace: "team-a" },
    spec: { serviceAccountName: "agent-sa", ...spec },
  });
}
