// @ts-check
// What the entrypoint needs to know about one agent CLI: how to start it
// headless, and how to read the structured events it prints.

/**
 * @typedef {import("../report.mjs").Usage} Usage
 *
 * What one run learned from the CLI's events.
 * @typedef {object} RunState
 * @property {string} [model]
 * @property {string} [finalText] the CLI's last answer
 * @property {string} [pendingText] an answer still streaming in pieces
 * @property {boolean} [failed] the CLI said the run failed
 * @property {string} [lastError] the last error the CLI reported (e.g. from the model API)
 * @property {Usage} [usage]
 *
 * How to start the CLI: with promptOnStdin the task goes to its standard
 * input, else it is in args; model names the model when the arguments do.
 * @typedef {{ command: string; args: string[]; promptOnStdin?: boolean; model?: string }} Invocation
 *
 * How the CLI is pointed at the KubeTask model gateway: variables to set and
 * arguments to add (gateway.mjs gives the access and trusts its CA).
 * @typedef {{ env: Record<string, string>; args: string[] }} GatewaySetup
 *
 * @typedef {object} Adapter
 * @property {string} name
 * @property {(extraArgs: string[], prompt: string, env: NodeJS.ProcessEnv) => Invocation} command
 * @property {(gateway: import("../gateway.mjs").GatewayAccess, env: NodeJS.ProcessEnv) => GatewaySetup} [viaGateway]
 *   absent: the CLI is not wired to the gateway yet
 * @property {(event: any, run: RunState) => string[]} onEvent
 *   reads one JSON event into `run`; returns the log lines to print for it
 */
export {};
