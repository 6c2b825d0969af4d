// Helpers for the model server tests: a server on 127.0.0.1 and an SSE reader.
import {
  type ModelServer,
  type Script,
  startModelServer,
} from "../../../localcluster/model_server/mod.ts";

export async function withServer(
  scripts: Script[],
  fn: (server: ModelServer) => Promise<void>,
): Promise<void> {
  const server = await startModelServer({ hostname: "127.0.0.1", scripts });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

export interface SseFrame {
  event?: string;
  data: string;
}

/** Splits an SSE body into frames; fails on a frame that does not end with a blank line. */
export function parseSse(text: string): SseFrame[] {
  if (text.length > 0 && !text.endsWith("\n\n")) {
    throw new Error(`SSE body does not end with a blank line`);
  }
  return text.split("\n\n").filter((f) => f !== "").map((frame) => {
    const out: SseFrame = { data: "" };
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) out.event = line.slice(7);
      else if (line.startsWith("data: ")) out.data += line.slice(6);
      else throw new Error(`unexpected SSE line ${JSON.stringify(line)}`);
    }
    return out;
  });
}

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}
