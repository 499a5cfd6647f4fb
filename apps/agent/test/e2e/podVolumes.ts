/**
 * What the rootful and the rootless volume e2e tests share: the manifests (a ConfigMap, a Secret,
 * a pod whose `writer` and `reader` mount them with an emptyDir and a Memory emptyDir, and an
 * `other` pod that mounts nothing) and what an app sees of them, which does not depend on who runs
 * Podman. What the host sees differs, and stays in each test.
 */
import { randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { expect } from "vitest"
import { ORDERS_IMAGE } from "../../demo/images"
import { appExec, eventually } from "./support"

const BUSYBOX = "/bin/busybox"

/** The manifests of one test's namespace, with their pod names and a random Secret value. */
export const volumeFixtures = (ns: string) => {
  // Random, so that finding it anywhere cannot be a coincidence.
  const secretValue = `s3cr3t-${randomBytes(12).toString("hex")}`
  const configMap = (level: string) =>
    `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: ${ns}}, data: {app.conf: "level=${level}", greeting: hello}}`
  const secret = `{apiVersion: v1, kind: Secret, metadata: {name: creds, namespace: ${ns}}, stringData: {password: "${secretValue}"}}`
  // `writer` (root) and `reader` (uid 1000) share `scratch`; the reader proves at start that its
  // user reads the ConfigMap file and writes the emptyDir.
  const pod = `
apiVersion: v1
kind: Pod
metadata: {name: vol, namespace: ${ns}}
spec:
  volumes:
    - {name: cfg, configMap: {name: settings, items: [{key: app.conf, path: conf/app.conf}]}}
    - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
    - {name: scratch, emptyDir: {}}
    - {name: mem, emptyDir: {medium: Memory, sizeLimit: 4Mi}}
  containers:
    - name: writer
      image: ${ORDERS_IMAGE}
      command: [${BUSYBOX}, sh, -c, "echo written > /scratch/from-writer && exec ${BUSYBOX} httpd -f -p 80"]
      ports: [{containerPort: 80}]
      volumeMounts:
        - {name: cfg, mountPath: /etc/app}
        - {name: creds, mountPath: /run/creds}
        - {name: scratch, mountPath: /scratch}
        - {name: mem, mountPath: /mem}
    - name: reader
      image: ${ORDERS_IMAGE}
      securityContext: {runAsUser: 1000, runAsGroup: 1000}
      command: [${BUSYBOX}, sh, -c, "${BUSYBOX} cat /etc/app/conf/app.conf > /data/reader-saw; exec ${BUSYBOX} sleep 3600"]
      volumeMounts:
        - {name: cfg, mountPath: /etc/app}
        - {name: scratch, mountPath: /data}
`
  const other = `{apiVersion: v1, kind: Pod, metadata: {name: other, namespace: ${ns}}, spec: {containers: [{name: app, image: ${ORDERS_IMAGE}, command: [${BUSYBOX}, httpd, -f, -p, "80"], ports: [{containerPort: 80}]}]}}`
  return {
    secretValue,
    configMap,
    secret,
    pod,
    other,
    /** The Podman pod names of `vol` and `other`. */
    POD: `bm-${ns}-vol`,
    OTHER: `bm-${ns}-other`,
  }
}

/** Runs a script in a container of the pod (its app's namespaces, through nsenter). */
export const volumeShell =
  (podName: string, pidOf: (container: string) => string) =>
  async (container: string, script: string) => {
    const result = await appExec(`${podName}-${container}`, [BUSYBOX, "sh", "-c", script], pidOf)
    return { ...result, stdout: result.stdout.trim() }
  }

/**
 * What the apps see once the fixtures are applied (ConfigMap `level=debug`): the ConfigMap file
 * read-only, the Secret 0400 on a tmpfs, the emptyDir shared by the writer and the reader (uid
 * 1000), the Memory emptyDir full at its sizeLimit; the other pod's app and both sidecars have
 * none of it mounted (`volumesDir`: the agent's volume directory).
 */
export const expectAppsSeeTheirVolumes = async (options: {
  readonly fixtures: ReturnType<typeof volumeFixtures>
  readonly pidOf: (container: string) => string
  readonly volumesDir: string
}) => {
  const { fixtures, pidOf, volumesDir } = options
  const { POD, OTHER } = fixtures
  const sh = volumeShell(POD, pidOf)

  // ConfigMap: the item at its path, read-only.
  expect((await sh("writer", `${BUSYBOX} cat /etc/app/conf/app.conf`)).stdout).toBe("level=debug")
  const readOnly = await sh("writer", "echo x > /etc/app/new")
  expect(readOnly.status).not.toBe(0)
  expect(readOnly.stderr).toMatch(/Read-only file system/)

  // Secret: the value, mode 0400 owned by the app's root, on a tmpfs.
  expect((await sh("writer", `${BUSYBOX} cat /run/creds/password`)).stdout).toBe(
    fixtures.secretValue,
  )
  expect((await sh("writer", `${BUSYBOX} stat -c '%a %u %g' /run/creds/password`)).stdout).toBe(
    "400 0 0",
  )
  expect(
    (await sh("writer", `${BUSYBOX} grep ' /run/creds ' /proc/self/mountinfo`)).stdout,
  ).toMatch(/ \/run\/creds ro,.* - tmpfs tmpfs /)

  // emptyDir: what the writer wrote, the reader sees; the reader (uid 1000) read the ConfigMap
  // file and wrote the emptyDir itself.
  await eventually(
    "the reader to see the writer's file and to have read the ConfigMap",
    async () => {
      expect((await sh("reader", `${BUSYBOX} cat /data/from-writer`)).stdout).toBe("written")
      expect((await sh("reader", `${BUSYBOX} cat /data/reader-saw`)).stdout).toBe("level=debug")
      return true
    },
  )
  expect((await sh("writer", `${BUSYBOX} stat -c '%u' /scratch/reader-saw`)).stdout).toBe("1000")

  // Memory emptyDir: a tmpfs that holds its sizeLimit and no more.
  expect((await sh("writer", `${BUSYBOX} grep ' /mem ' /proc/self/mountinfo`)).stdout).toMatch(
    / \/mem rw,.* - tmpfs tmpfs rw,.*size=4096k/,
  )
  const full = await sh("writer", `${BUSYBOX} dd if=/dev/zero of=/mem/big bs=1048576 count=8`)
  expect(full.status).not.toBe(0)
  expect(full.stderr).toMatch(/No space left on device/)

  // Another pod's app and the sidecars have none of it mounted.
  for (const container of [`${OTHER}-app`, `${POD}-sidecar`, `${OTHER}-sidecar`]) {
    const mountinfo = await readFile(`/proc/${pidOf(container)}/mountinfo`, "utf8")
    expect(mountinfo.includes(volumesDir), container).toBe(false)
    expect(mountinfo.includes(" /run/creds "), container).toBe(false)
  }
  const otherLs = await appExec(`${OTHER}-app`, [BUSYBOX, "ls", "/run/creds", "/etc/app"], pidOf)
  expect(otherLs.status).not.toBe(0)
}
