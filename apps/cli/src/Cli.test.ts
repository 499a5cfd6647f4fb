import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { describe, expect, it, onTestFinished } from "vitest"
import { parseInvocation } from "./Cli"
import { deletePath, manifestObjects, readManifests } from "./Manifests"
import { renderTable } from "./Output"

describe("command line", () => {
  it("-f means a file for apply and follow for logs", async () => {
    const applied = await Effect.runPromise(parseInvocation(["apply", "-f", "a.yaml", "-f", "-"]))
    expect(applied.values.filename).toEqual(["a.yaml", "-"])
    const followed = await Effect.runPromise(parseInvocation(["logs", "web-0", "-f", "-c", "app"]))
    expect(followed).toMatchObject({
      command: "logs",
      positionals: ["web-0"],
      values: { follow: true, container: "app" },
    })
  })

  it("an unknown command or option is a usage error naming it", async () => {
    const unknown = await Effect.runPromiseExit(parseInvocation(["deploy"]))
    expect(Exit.isFailure(unknown) && String(unknown.cause)).toContain('unknown command "deploy"')
    const option = await Effect.runPromiseExit(parseInvocation(["get", "pods", "--bogus"]))
    expect(Exit.isFailure(option) && String(option.cause)).toContain("--bogus")
  })
})

describe("manifests", () => {
  it("a directory's YAML and JSON files, in name order, and stdin, as one multi-document stream", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beemesh-cli-"))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, "m"))
    await writeFile(join(dir, "m", "b.json"), '{"kind":"Pod","metadata":{"name":"b"}}')
    await writeFile(
      join(dir, "m", "a.yaml"),
      "kind: Pod\nmetadata: { name: a, namespace: x }\n---\nkind: Pod\nmetadata: { name: c }\n",
    )
    await writeFile(join(dir, "m", "notes.txt"), "ignored")
    const text = await Effect.runPromise(
      readManifests([join(dir, "m"), "-"], async () => "kind: Pod\nmetadata: { name: d }"),
    )
    const objects = await Effect.runPromise(manifestObjects(text))
    expect(objects.map((o) => `${o.namespace}/${o.name}`)).toEqual([
      "x/a",
      "default/c",
      "default/b",
      "default/d",
    ])
  })

  it("delete -f removes each kind through its route: workloads first, then what they use", async () => {
    const text = [
      "{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: shop}}",
      "{apiVersion: v1, kind: Service, metadata: {name: orders, namespace: shop}}",
      "{apiVersion: apps/v1, kind: Deployment, metadata: {name: orders, namespace: shop}}",
      "{apiVersion: v1, kind: Secret, metadata: {name: creds}}",
    ].join("\n---\n")
    const objects = await Effect.runPromise(manifestObjects(text))
    expect(objects.map(deletePath)).toEqual([
      "/v1/workloads/shop/orders",
      "/v1/configs/services/shop/orders",
      "/v1/configs/configmaps/shop/settings",
      "/v1/configs/secrets/default/creds",
    ])
  })

  it("a missing file is named", async () => {
    const exit = await Effect.runPromiseExit(readManifests(["/nonexistent.yaml"], async () => ""))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("/nonexistent.yaml: ENOENT")
  })
})

describe("tables", () => {
  it("pads columns to the widest cell", () => {
    expect(
      renderTable(
        ["NAME", "READY"],
        [
          ["orders", "2/2"],
          ["web", "1/1"],
        ],
      ),
    ).toBe("NAME    READY\norders  2/2\nweb     1/1\n")
  })
})
