/**
 * An in-memory PodmanClient for dependents' unit tests. It models the bookkeeping of pods,
 * containers and images (names, labels, states, the typed errors, events); it runs nothing. What a
 * process would do (exec output, logs, listening ports) comes from the `behaviour` hooks.
 * A pod has an infra container (unless created with `no_infra`) that can be started alone and then
 * has a PID, as Podman's does; it is found by inspect and start, not listed. A container joining
 * another's network namespace (`netns: container:<name>`) needs that container to exist, starts it
 * first, and keeps it from being removed alone; a pod with an infra container refuses containers
 * with their own ID maps, as Podman 4.3 does. The PIDs are above the kernel's largest pid_max, so
 * they never name a real process. It passes the contract suite (see contract.ts).
 */
import { Effect, Layer, PubSub, Stream } from "effect"
import { ImageMissing, NameInUse, NotFound, RuntimeFailure } from "../Errors.js"
import { IMAGE_HINT } from "../internal/failures.js"
import { PodmanClient, type PodmanClientShape } from "../PodmanClient.js"
import type {
  ContainerCreateRequest,
  ExecResult,
  PodCreateRequest,
  PodmanEvent,
} from "../Requests.js"
import type * as R from "../Responses.js"

export interface FakePodmanBehaviour {
  /** Images present from the start. */
  readonly images?: ReadonlyArray<string>
  /** The `USER` of images present from the start (default: none, i.e. root). */
  readonly imageUsers?: Readonly<Record<string, string>>
  readonly exec?: (container: string, cmd: ReadonlyArray<string>) => ExecResult
  readonly logs?: (container: string) => { stdout: string; stderr: string }
  readonly listeningPorts?: (container: string) => ReadonlyArray<number>
}

interface FakePod {
  readonly id: string
  readonly req: PodCreateRequest
  readonly infra: FakeContainer | undefined
  state: "Created" | "Running" | "Exited"
}
interface FakeContainer {
  readonly id: string
  readonly req: ContainerCreateRequest
  status: "created" | "initialized" | "running" | "exited"
  /** The process while running, else 0. */
  pid: number
  /** Lines `addHosts` gave it. */
  readonly hosts: Array<string>
  /** The exit code of its last run (0 until it exited). */
  exitCode: number
}

/** A PodmanClient over in-memory state, with what a test needs to look behind it. */
export interface FakePodman extends PodmanClientShape {
  /** Whether `pid` is the process of a running fake container (its namespace exists). */
  readonly isRunningPid: (pid: number) => boolean
  /**
   * The container's process exits by itself with `exitCode` (a crash, or an app that is done): it
   * is `exited`, inspect reports the code, and a `died` event is emitted, as Podman does.
   */
  readonly exitContainer: (name: string, exitCode: number) => Effect.Effect<void, NotFound>
  /** The `address name` lines `addHosts` gave the container, in order. */
  readonly addedHosts: (name: string) => ReadonlyArray<string>
}

let counter = 0
const newId = () => (++counter).toString(16).padStart(64, "0")
/** Linux's pid_max is at most 4194304: these never collide with a real process. */
const FIRST_FAKE_PID = 5_000_000
let lastPid = FIRST_FAKE_PID

const matches = (
  labels: Readonly<Record<string, string>> | undefined,
  want: Readonly<Record<string, string>> | undefined,
) => Object.entries(want ?? {}).every(([k, v]) => labels?.[k] === v)

/** Normalises `name` / `localhost/name:latest` the way local storage lookups match them. */
const imageKey = (ref: string) => {
  const withTag = /:[^/]+$/.test(ref) ? ref : `${ref}:latest`
  return withTag.includes("/") ? withTag : `localhost/${withTag}`
}

export const makeFakePodman = (behaviour: FakePodmanBehaviour = {}): Effect.Effect<FakePodman> =>
  Effect.gen(function* () {
    const pods = new Map<string, FakePod>()
    const containers = new Map<string, FakeContainer>()
    const images = new Set((behaviour.images ?? []).map(imageKey))
    // A build gives the tag a new image, as Podman does: inspect reports the build's ID.
    const imageIds = new Map<string, string>()
    const hub = yield* PubSub.unbounded<PodmanEvent>()
    const history: Array<{ readonly at: number; readonly event: PodmanEvent }> = []
    const emit = (
      type: string,
      action: string,
      id: string,
      name: string,
      labels?: Readonly<Record<string, string>>,
    ) => {
      const event = { type, action, id, name, attributes: { ...labels, name } }
      history.push({ at: Date.now(), event })
      return PubSub.publish(hub, event)
    }

    const findPod = (name: string) =>
      pods.get(name) ?? [...pods.values()].find((p) => p.id === name || p.id.startsWith(name))
    const getPod = (name: string): Effect.Effect<FakePod, NotFound> => {
      const p = findPod(name)
      return p ? Effect.succeed(p) : Effect.fail(new NotFound({ kind: "pod", name }))
    }
    const infras = () => [...pods.values()].flatMap((p) => (p.infra === undefined ? [] : [p.infra]))
    const infraOf = (name: string) => infras().find((c) => c.id === name || c.req.name === name)
    /** The container whose network namespace `c` joins, if any. */
    const netnsOwner = (c: FakeContainer) =>
      c.req.netns?.nsmode === "container" ? c.req.netns.value : undefined
    const dependents = (c: FakeContainer) =>
      [...containers.values()].filter((x) => {
        const owner = netnsOwner(x)
        return owner !== undefined && (owner === c.req.name || owner === c.id)
      })
    const getContainer = (name: string): Effect.Effect<FakeContainer, NotFound> => {
      const c =
        containers.get(name) ?? [...containers.values()].find((x) => x.id === name) ?? infraOf(name)
      return c ? Effect.succeed(c) : Effect.fail(new NotFound({ kind: "container", name }))
    }
    /** Containers whose process ended since the last `flushDied` (Podman reports each as `died`). */
    const died: Array<FakeContainer> = []
    const setStatus = (c: FakeContainer, status: FakeContainer["status"]) => {
      if (status === "running" && c.status !== "running") c.pid = ++lastPid
      if (status !== "running") c.pid = 0
      if (status !== "running" && c.status === "running") died.push(c)
      c.status = status
    }
    const flushDied = Effect.suspend(() =>
      Effect.forEach(
        died.splice(0),
        (c) => emit("container", "died", c.id, c.req.name, c.req.labels),
        {
          discard: true,
        },
      ),
    )
    const podContainers = (pod: FakePod) =>
      [...containers.values()].filter((c) => c.req.pod === pod.req.name)
    const running = (name: string) =>
      getContainer(name).pipe(
        Effect.flatMap((c) =>
          c.status === "running"
            ? Effect.succeed(c)
            : Effect.fail(
                new RuntimeFailure({
                  operation: "exec create",
                  status: 409,
                  podmanMessage: `container ${name} is not running`,
                }),
              ),
        ),
      )

    /** Running while any of its containers runs, as Podman derives a pod's state. */
    const stateOf = (p: FakePod): FakePod["state"] =>
      [...(p.infra === undefined ? [] : [p.infra]), ...podContainers(p)].some(
        (c) => c.status === "running",
      )
        ? "Running"
        : p.state === "Running"
          ? "Exited"
          : p.state

    const podInspect = (p: FakePod): R.PodInspect => ({
      Id: p.id,
      Name: p.req.name,
      State: stateOf(p),
      Labels: { ...p.req.labels },
      InfraContainerID: p.infra?.id ?? "",
      InfraConfig:
        p.infra === undefined
          ? null
          : {
              PortBindings: Object.fromEntries(
                (p.req.portmappings ?? []).map((m) => [
                  `${m.container_port}/${m.protocol ?? "tcp"}`,
                  [{ HostIp: m.host_ip ?? "", HostPort: String(m.host_port) }],
                ]),
              ),
              HostAdd: [...(p.req.hostadd ?? [])],
              NetworkOptions: Object.fromEntries(
                Object.entries(p.req.network_options ?? {}).map(([k, v]) => [k, [...v]]),
              ),
            },
      SharedNamespaces: [
        ...(p.req.no_infra === true ? [] : (p.req.shared_namespaces ?? ["ipc", "net", "uts"])),
      ],
      Containers: podContainers(p).map((c) => ({ Id: c.id, Name: c.req.name, State: c.status })),
    })

    const setPodState = (p: FakePod, state: FakePod["state"], status: FakeContainer["status"]) => {
      p.state = state
      for (const c of [...(p.infra === undefined ? [] : [p.infra]), ...podContainers(p)])
        setStatus(c, status)
    }

    const api: PodmanClientShape = {
      socketPath: "fake://podman",
      embedded: false,
      system: {
        ping: () => Effect.void,
        version: () => Effect.succeed({ Version: "4.3.1-fake", ApiVersion: "1.41" }),
        info: () =>
          Effect.succeed({
            host: {
              arch: "amd64",
              os: "linux",
              ociRuntime: { name: "runc", path: "/usr/bin/runc" },
              cgroupVersion: "v1",
              security: { rootless: false },
            },
            store: { graphRoot: "/fake/storage", runRoot: "/fake/run" },
            version: { Version: "4.3.1-fake", APIVersion: "4.3.1" },
          }),
      },
      pods: {
        create: (req) =>
          Effect.gen(function* () {
            if (findPod(req.name))
              return yield* Effect.fail(new NameInUse({ kind: "pod", name: req.name }))
            const id = newId()
            const infra: FakeContainer | undefined =
              req.no_infra === true
                ? undefined
                : {
                    id: newId(),
                    req: {
                      name: `${id.slice(0, 12)}-infra`,
                      image: "localhost/podman-pause",
                      pod: req.name,
                    },
                    status: "created",
                    pid: 0,
                    exitCode: 0,
                    hosts: [],
                  }
            const pod: FakePod = { id, req, infra, state: "Created" }
            pods.set(req.name, pod)
            yield* emit("pod", "create", pod.id, req.name, req.labels)
            return pod.id
          }),
        start: (name) =>
          Effect.gen(function* () {
            const p = yield* getPod(name)
            setPodState(p, "Running", "running")
            yield* emit("pod", "start", p.id, p.req.name)
          }),
        stop: (name) =>
          Effect.gen(function* () {
            const p = yield* getPod(name)
            if (stateOf(p) === "Running") {
              setPodState(p, "Exited", "exited")
            }
            yield* flushDied
            yield* emit("pod", "stop", p.id, p.req.name)
          }),
        remove: (name, opts) =>
          Effect.gen(function* () {
            const p = yield* getPod(name)
            if (stateOf(p) === "Running" && !opts?.force) {
              return yield* Effect.fail(
                new RuntimeFailure({
                  operation: "pod remove",
                  status: 500,
                  podmanMessage: `pod ${name} is running; stop it or force removal`,
                }),
              )
            }
            setPodState(p, stateOf(p), "exited")
            yield* flushDied
            for (const c of podContainers(p)) {
              containers.delete(c.req.name)
              yield* emit("container", "remove", c.id, c.req.name, c.req.labels)
            }
            pods.delete(p.req.name)
            yield* emit("pod", "remove", p.id, p.req.name)
          }),
        inspect: (name) => getPod(name).pipe(Effect.map(podInspect)),
        exists: (name) => Effect.sync(() => findPod(name) !== undefined),
        list: (filter) =>
          Effect.sync(() =>
            [...pods.values()]
              .filter((p) => matches(p.req.labels, filter?.labels))
              .map((p) => ({
                Id: p.id,
                Name: p.req.name,
                Status: stateOf(p),
                Labels: { ...p.req.labels },
              })),
          ),
      },
      containers: {
        create: (req) =>
          Effect.gen(function* () {
            if (!images.has(imageKey(req.image))) {
              return yield* Effect.fail(new ImageMissing({ image: req.image, hint: IMAGE_HINT }))
            }
            const pod = req.pod === undefined ? undefined : findPod(req.pod)
            if (req.pod !== undefined && pod === undefined) {
              return yield* Effect.fail(new NotFound({ kind: "pod", name: req.pod }))
            }
            if (pod?.infra !== undefined && req.idmappings !== undefined) {
              return yield* Effect.fail(
                new RuntimeFailure({
                  operation: "container create",
                  status: 500,
                  podmanMessage:
                    "cannot specify a new uid/gid map when entering a pod with an infra container: invalid argument",
                }),
              )
            }
            if (req.netns?.nsmode === "container") {
              yield* getContainer(req.netns.value ?? "")
            }
            if (containers.has(req.name))
              return yield* Effect.fail(new NameInUse({ kind: "container", name: req.name }))
            const c: FakeContainer = {
              id: newId(),
              req,
              status: "created",
              pid: 0,
              exitCode: 0,
              hosts: [],
            }
            containers.set(req.name, c)
            yield* emit("container", "create", c.id, req.name, req.labels)
            return c.id
          }),
        init: (name) =>
          Effect.gen(function* () {
            const c = yield* getContainer(name)
            // Past its init (initialized or running): Podman answers 304 and changes nothing.
            if (c.status === "initialized" || c.status === "running") return
            // Joining another's network namespace needs it running, as for start.
            const owner = netnsOwner(c)
            if (owner !== undefined) setStatus(yield* getContainer(owner), "running")
            setStatus(c, "initialized")
          }),
        start: (name) =>
          Effect.gen(function* () {
            const c = yield* getContainer(name)
            // A pod's containers join its infra container's namespaces: it starts first; so does
            // a container whose network namespace this one joins.
            const pod = c.req.pod === undefined ? undefined : findPod(c.req.pod)
            if (pod?.infra !== undefined) setStatus(pod.infra, "running")
            const owner = netnsOwner(c)
            if (owner !== undefined) setStatus(yield* getContainer(owner), "running")
            setStatus(c, "running")
          }),
        stop: (name) =>
          Effect.gen(function* () {
            const c = yield* getContainer(name)
            if (c.status === "running") setStatus(c, "exited")
            yield* flushDied
          }),
        remove: (name, opts) =>
          Effect.gen(function* () {
            const c = yield* getContainer(name)
            if (dependents(c).length > 0) {
              return yield* Effect.fail(
                new RuntimeFailure({
                  operation: "container remove",
                  status: 500,
                  podmanMessage: `container ${c.id} has dependent containers which must be removed before it: ${dependents(
                    c,
                  )
                    .map((d) => d.id)
                    .join(",")}`,
                }),
              )
            }
            if (c.status === "running" && !opts?.force) {
              return yield* Effect.fail(
                new RuntimeFailure({
                  operation: "container remove",
                  status: 500,
                  podmanMessage: `container ${name} is running`,
                }),
              )
            }
            if (c.status === "running") setStatus(c, "exited")
            yield* flushDied
            containers.delete(c.req.name)
            yield* emit("container", "remove", c.id, c.req.name, c.req.labels)
          }),
        inspect: (name) =>
          getContainer(name).pipe(
            Effect.map(
              (c): R.ContainerInspect => ({
                Id: c.id,
                Name: c.req.name,
                ...(c.req.pod !== undefined ? { Pod: findPod(c.req.pod)?.id ?? "" } : {}),
                State: {
                  Status: c.status,
                  Running: c.status === "running",
                  Pid: c.pid,
                  ExitCode: c.exitCode,
                },
                Config: { Labels: { ...c.req.labels }, User: c.req.user ?? "" },
                HostConfig: {
                  // As Podman reports a container's published ports (the holder's 8080).
                  PortBindings: Object.fromEntries(
                    (c.req.portmappings ?? []).map((m) => [
                      `${m.container_port}/${m.protocol ?? "tcp"}`,
                      [{ HostIp: m.host_ip ?? "", HostPort: String(m.host_port) }],
                    ]),
                  ),
                  Ulimits: (c.req.r_limits ?? []).map((l) => ({
                    Name: `RLIMIT_${l.type.toUpperCase()}`,
                    Soft: l.soft,
                    Hard: l.hard,
                  })),
                },
                OCIRuntime: c.req.oci_runtime ?? "runc",
              }),
            ),
          ),
        list: (filter) =>
          Effect.sync(() =>
            [...containers.values()]
              .filter((c) => matches(c.req.labels, filter?.labels))
              .filter((c) => filter?.pod === undefined || c.req.pod === filter.pod)
              .map((c) => ({
                Id: c.id,
                Names: [c.req.name],
                Image: c.req.image,
                State: c.status,
                Pid: c.pid,
                ...(c.req.pod !== undefined ? { PodName: c.req.pod } : {}),
                Labels: { ...c.req.labels },
              })),
          ),
        exec: (name, cmd) =>
          running(name).pipe(
            Effect.map(
              () =>
                behaviour.exec?.(name, cmd) ?? {
                  exitCode: 127,
                  stdout: "",
                  stderr: "FakePodman: exec is not modelled",
                },
            ),
          ),
        logs: (name, opts) =>
          getContainer(name).pipe(
            Effect.map(() => tailOf(behaviour.logs?.(name) ?? { stdout: "", stderr: "" }, opts)),
          ),
        // The fake's containers write nothing after creation: following ends with what was there.
        followLogs: (name, opts) =>
          Stream.fromEffect(getContainer(name)).pipe(
            Stream.flatMap(() => {
              const { stdout, stderr } = tailOf(
                behaviour.logs?.(name) ?? { stdout: "", stderr: "" },
                opts,
              )
              return Stream.fromIterable(
                [
                  { stream: "stdout" as const, text: stdout },
                  { stream: "stderr" as const, text: stderr },
                ].filter((chunk) => chunk.text !== ""),
              )
            }),
          ),
        healthcheck: (name) =>
          getContainer(name).pipe(
            Effect.flatMap((c) =>
              c.req.healthconfig === undefined
                ? Effect.fail(
                    new RuntimeFailure({
                      operation: "container healthcheck",
                      status: 409,
                      podmanMessage: "container has no defined healthcheck",
                    }),
                  )
                : Effect.succeed(c.status === "running" ? "healthy" : "unhealthy"),
            ),
          ),
        listeningPorts: (name) =>
          getContainer(name).pipe(
            Effect.map((c) =>
              c.status === "running" ? (behaviour.listeningPorts?.(name) ?? []) : [],
            ),
          ),
        addHosts: (name, entries) =>
          getContainer(name).pipe(
            Effect.flatMap((c) =>
              Effect.sync(() => {
                c.hosts.push(...entries.map((e) => `${e.address}\t${e.name}`))
              }),
            ),
          ),
      },
      images: {
        exists: (ref) => Effect.sync(() => images.has(imageKey(ref))),
        inspect: (ref) =>
          images.has(imageKey(ref))
            ? Effect.succeed({
                Id: imageIds.get(imageKey(ref)) ?? imageKey(ref),
                Config: {
                  User:
                    Object.entries(behaviour.imageUsers ?? {}).find(
                      ([name]) => imageKey(name) === imageKey(ref),
                    )?.[1] ?? "",
                },
              })
            : Effect.fail(new NotFound({ kind: "image", name: ref })),
        build: (req) =>
          Effect.sync(() => {
            const id = newId()
            images.add(imageKey(req.tag))
            imageIds.set(imageKey(req.tag), id)
            return { tag: req.tag, id, output: `FakePodman: recorded ${req.tag}\n` }
          }),
        remove: (ref) =>
          images.delete(imageKey(ref)) && (imageIds.delete(imageKey(ref)) || true)
            ? Effect.void
            : Effect.fail(new NotFound({ kind: "image", name: ref })),
      },
      events: (filter) =>
        Stream.concat(
          Stream.fromIterable(
            filter?.since === undefined
              ? []
              : history.filter((h) => h.at >= filter.since!.getTime()).map((h) => h.event),
          ),
          Stream.fromPubSub(hub),
        ).pipe(
          Stream.filter(
            (e) =>
              (filter?.type === undefined ||
                (filter.type as ReadonlyArray<string>).includes(e.type)) &&
              matches(e.attributes, filter?.labels),
          ),
        ),
    }
    const isRunningPid = (pid: number) =>
      pid > 0 &&
      [...containers.values(), ...infras()].some((c) => c.status === "running" && c.pid === pid)
    // Looked up when run, not when called: a test may keep the effect and run it again later.
    const exitContainer = (name: string, exitCode: number) =>
      Effect.suspend(() => getContainer(name)).pipe(
        Effect.flatMap((c) => {
          if (c.status !== "running") return Effect.void
          c.exitCode = exitCode
          setStatus(c, "exited")
          return flushDied
        }),
      )
    const addedHosts = (name: string) => [...(containers.get(name)?.hosts ?? [])]
    return { ...api, isRunningPid, exitContainer, addedHosts }
  })

/** The fake as a PodmanClient layer. */
export const fakePodmanLayer = (behaviour: FakePodmanBehaviour = {}): Layer.Layer<PodmanClient> =>
  Layer.effect(PodmanClient, makeFakePodman(behaviour))

const lastLines = (text: string, tail: number | undefined) => {
  if (tail === undefined || text === "") return text
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n")
  return tail === 0 ? "" : `${lines.slice(-tail).join("\n")}\n`
}

const tailOf = (
  logs: { stdout: string; stderr: string },
  opts: { readonly tail?: number } | undefined,
) => ({ stdout: lastLines(logs.stdout, opts?.tail), stderr: lastLines(logs.stderr, opts?.tail) })
