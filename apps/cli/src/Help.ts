/** The help text of `beemesh` and of each command (`beemesh COMMAND --help`). */
export const CLI_VERSION = "0.1.0"

const GLOBAL = `Global options:
  --context NAME     use this context of the context file (BEEMESH_CONTEXT)
  --server URL       the agent's API, e.g. http://127.0.0.1:8080 (BEEMESH_SERVER)
  --token TOKEN      the agent's operator token (BEEMESH_TOKEN)
  -h, --help         this help
Without a context, the CLI uses http://127.0.0.1:8080 and, when readable, /var/lib/beemesh/operator-token.
The context file is $XDG_CONFIG_HOME/beemesh/config.yaml (default ~/.config/beemesh/config.yaml).`

export const MAIN_HELP = `beemesh ${CLI_VERSION} — the command line of a Beemesh agent

Usage: beemesh COMMAND [options]

Commands:
  apply -f FILE|DIR|-       create or update workloads, then wait until their replicas are ready
  get KIND                  list workloads, pods, services or peers (a table, or -o json|yaml)
  describe KIND NAME        one workload, pod or service in detail, with recent events
  delete KIND NAME | -f F   remove workloads (-f: also ConfigMaps, Secrets, Services)
  logs POD [-c C] [-f]      a replica's container output
  top [-n NS]               traffic per service: connections, bytes, errors, setup time
  context set|use|show      the agents this CLI knows (URL and token per name)

${GLOBAL}

Run \`beemesh COMMAND --help\` for a command's options.
`

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  apply: `Usage: beemesh apply -f FILE|DIR|- [-f …] [--timeout SECONDS] [--no-wait]

Sends Pods, Deployments and StatefulSets (YAML or JSON, several documents per file allowed) to the
agent, which applies them at once. A directory means its .yaml, .yml and .json files; - is stdin.
Then prints each workload's rollout ("orders: 2/3 ready") until all replicas are ready.

  -f, --filename PATH   file, directory or - (repeatable)
  --timeout SECONDS     how long to wait for the rollout (default 120); exit 1 when not ready
  --no-wait             return once the agent accepted the workloads

${GLOBAL}
`,
  get: `Usage: beemesh get workloads|pods|services|peers [-n NAMESPACE] [-o table|json|yaml]

  workloads   kind, ready replicas, services
  pods        each replica's pod: phase, restarts, host port
  services    services of this agent's workloads and the providers the mesh knows
  peers       the agent's libp2p connections and its DHT routing table size
  -n, --namespace NS    only this namespace (workloads, pods, services)
  -o, --output FORMAT   table (default), json or yaml

${GLOBAL}
`,
  describe: `Usage: beemesh describe workload|pod|service NAME [-n NAMESPACE] [-o json|yaml]

NAME may be NAMESPACE/NAME; the namespace defaults to "default" (pods are named uniquely).
Shows replicas, services and the recent events the agent reports.

${GLOBAL}
`,
  delete: `Usage: beemesh delete workload NAME [-n NAMESPACE]
       beemesh delete -f FILE|DIR|-

Removes the workloads (their pods, and their service records from the mesh). With -f, the
files' ConfigMaps, Secrets and Services go too, each through its own route, after the workloads
(the agent refuses to delete a ConfigMap or Secret a workload still uses).

${GLOBAL}
`,
  logs: `Usage: beemesh logs POD [-c CONTAINER] [-f] [--tail LINES]

  -c, --container NAME  the container (default: the pod's only app container; "sidecar" for the sidecar)
  -f, --follow          keep printing as the container writes, until it stops or Ctrl-C
  --tail LINES          only the last lines

${GLOBAL}
`,
  top: `Usage: beemesh top [-n NAMESPACE] [-o table|json|yaml]

Traffic between workloads since the agent started, per service: connections, bytes sent and
received, errors, refusals and the mean connection setup time. REPORTER says which side counted
it: "caller" rows come from the calling pods and name both workloads, "provider" rows from the
serving pods (which cannot tell who called). Bytes are seen from the reporter. Counters arrive
with each sidecar's lease renewal, so they lag by up to a third of the agent's lease.

  -n, --namespace NS    only this namespace
  -o, --output FORMAT   table (default), json or yaml

${GLOBAL}
`,
  context: `Usage: beemesh context set NAME --server URL (--token TOKEN | --token-file PATH)
       beemesh context use NAME
       beemesh context show [-o json|yaml]

A context names an agent: its API URL and operator token. \`set\` creates or updates one (and
makes it current when it is the first), \`use\` makes one current, \`show\` lists them (tokens
hidden). The file is written with mode 0600.
`,
}
