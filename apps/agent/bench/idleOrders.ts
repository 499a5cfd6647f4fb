/**
 * The idle workload of the density and memory benches: a Deployment of the demo orders image in
 * the run's namespace, and how many of its replicas the agent lists as providers (registered).
 */
import { ORDERS_IMAGE } from "../demo/images"
import { type AgentProcess, api } from "../test/e2e/support"

/** A Deployment named `idle` of `replicas` orders pods in namespace `ns`, as YAML. */
export const idleDeployment = (ns: string, replicas: number) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: idle, namespace: ${ns} }
spec:
  replicas: ${replicas}
  template:
    spec:
      containers: [{ name: app, image: ${ORDERS_IMAGE}, ports: [{ containerPort: 80 }] }]
`

/** How many providers of namespace `ns`'s services the agent lists. */
export const providersIn = async (agent: AgentProcess, ns: string) => {
  const listed = await api(agent, "GET", "/v1/services")
  const services = (listed.json?.services ?? []) as Array<{
    namespace: string
    providers: Array<unknown>
  }>
  return services.filter((s) => s.namespace === ns).reduce((sum, s) => sum + s.providers.length, 0)
}
