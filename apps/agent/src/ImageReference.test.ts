import { describe, expect, it } from "vitest"
import { imageReferenceProblem } from "./ImageReference"

describe("image references", () => {
  it.each([
    "nginx",
    "nginx:1.27",
    "library/nginx:latest",
    "localhost/beemesh-test/hostile:1",
    "localhost:5000/app",
    "registry.example.com:5000/team/app_name/x-y:v2.0-rc1",
    "Registry.Example.com/app",
    "[fd00::1]:5000/app:1",
    `app@sha256:${"a".repeat(64)}`,
    `quay.io/team/app:1@sha256:${"0".repeat(64)}`,
    "a__b/c---d",
  ])("%s is accepted", (reference) => {
    expect(imageReferenceProblem(reference)).toBeUndefined()
  })

  it.each([
    ["", /is empty/],
    ["nginx latest", /whitespace/],
    [" nginx", /whitespace/],
    ["MyApp:1", /upper-case letters in "MyApp"/],
    ["team/MyApp", /upper-case letters/],
    ["team//app", /empty name component/],
    ["team/app/", /empty name component/],
    ["/app", /empty name component/],
    ["app:", /malformed tag ""/],
    ["app:-x", /malformed tag/],
    [`app:${"x".repeat(129)}`, /malformed tag/],
    ["app@sha256:xyz", /malformed digest/],
    ["app@", /malformed digest/],
    ["reg.example.com:port/app", /registry port "port"/],
    ["-bad.example.com/app", /registry host/],
    ["app!", /invalid name component "app!"/],
    ["a.-b", /invalid name component/],
    [`${"a".repeat(256)}`, /longer than 255/],
  ])("%j is refused: %s", (reference, reason) => {
    expect(imageReferenceProblem(reference)).toMatch(reason)
  })
})
