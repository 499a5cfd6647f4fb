import { AGENT_NODE_OPTIONS } from "../src/NodeOptions"

/**
 * A benchmark's `--node-options="<options>"`: the agent's Node options, space-separated; the
 * agent's own (src/NodeOptions.ts) when the option is not given.
 */
export const agentNodeOptions = (value: string | undefined): ReadonlyArray<string> =>
  value?.split(" ").filter((o) => o !== "") ?? AGENT_NODE_OPTIONS
