import { beemeshVitestConfig } from "@beemesh/vitest-config"
import { defineConfig } from "vitest/config"

/**
 * E2E files one after another (`e2eWorkers: 1`). Two at a time took them from 1140 s to ~620 s and
 * the files are made safe for it (images built once in test/e2e/globalSetup.ts; the rootless
 * user's store held by one file at a time, test/e2e/rootlessUser.ts; simulated-host sweeps leave
 * live runs alone), but under that load the agent showed defects that one at a time hides: two
 * fixed (an exit during creation, a stop racing a removal), two not yet (a liveness probe run
 * while its own kill stops the container records "container … is stopping" as the failure;
 * traffic.test's client got ECONNRESET once). Set 2 again once those are fixed.
 */
const base = beemeshVitestConfig({ e2eWorkers: 1, e2eGlobalSetup: ["test/e2e/globalSetup.ts"] })

/**
 * The three projects every package has, and `unit-lean`: the tests that run the HTTP API through
 * `app.request()` again on the lean fetch classes the agent serves with (test/support/leanFetch.ts).
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    projects: [
      ...(base.test?.projects ?? []),
      {
        extends: true,
        test: {
          name: "unit-lean",
          include: [
            "src/http/*.test.ts",
            "src/NetworkPolicies.test.ts",
            "src/wiring.test.ts",
            "test/unit/corpus.test.ts",
          ],
          setupFiles: ["test/support/leanFetch.ts"],
          testTimeout: 20_000,
        },
      },
    ],
  },
})
