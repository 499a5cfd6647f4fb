/**
 * What an apply request is checked against before anything is created (pure): every pod name it
 * needs fits Podman's limit and is held by no other workload or orphan, across kinds and
 * namespaces (`bm-a-b-c-0` is replica c-0 of namespace a-b and replica b-c-0 of namespace a), and
 * no workload appears twice.
 */
import { replicaNames, type Workload } from "../Manifest"
import { DeployFailed, PodNameTaken } from "../Workloads"
import { orphanReplicaPod } from "./Adoption"
import { MAX_POD_NAME_LENGTH, podNameOf, workloadKey } from "./PodTemplate"
import { replicasOf, type Table } from "./WorkloadTable"

const describeWorkload = (w: Workload) => `${w.kind} ${w.namespace}/${w.name}`

export const checkApply = (
  table: Table,
  workloads: ReadonlyArray<Workload>,
): DeployFailed | PodNameTaken | undefined => {
  const applying = new Set(workloads.map((w) => workloadKey(w.namespace, w.name)))
  const holders = new Map<string, string>()
  for (const [key, workload] of table.desired) {
    if (applying.has(key)) continue
    for (const name of replicaNames(workload))
      holders.set(podNameOf(workload, name), `replica ${name} of ${describeWorkload(workload)}`)
    // An updated Deployment's replicas take fresh names: those held now count too.
    for (const replica of replicasOf(table, key))
      holders.set(replica.pod, `replica ${replica.name} of ${describeWorkload(workload)}`)
  }
  for (const orphan of table.orphans.values()) {
    // Applying an orphan's own workload settles it (adopted or removed).
    if (applying.has(workloadKey(orphan.namespace, orphan.workload))) continue
    const holder = `orphan pod ${orphan.pod} of ${orphan.namespace}/${orphan.workload}`
    holders.set(orphan.pod, holder)
    // A claimed standby pod's Podman name is not its replica's: that name is held too.
    holders.set(orphanReplicaPod(orphan), holder)
  }
  const seen = new Set<string>()
  for (const workload of workloads) {
    const key = workloadKey(workload.namespace, workload.name)
    if (seen.has(key))
      return new DeployFailed({
        namespace: workload.namespace,
        name: workload.name,
        reason: "the request names this workload twice; keep one document per workload",
        fault: "client",
      })
    seen.add(key)
    for (const name of replicaNames(workload)) {
      const pod = podNameOf(workload, name)
      if (pod.length > MAX_POD_NAME_LENGTH)
        return new DeployFailed({
          namespace: workload.namespace,
          name: workload.name,
          reason: `pod name ${pod} is longer than ${MAX_POD_NAME_LENGTH} characters; shorten the namespace or the name`,
          fault: "client",
        })
      const holder = holders.get(pod)
      if (holder !== undefined)
        return new PodNameTaken({ pod, wanted: `${describeWorkload(workload)}`, holder })
      holders.set(pod, `replica ${name} of ${describeWorkload(workload)}`)
    }
  }
  return undefined
}
