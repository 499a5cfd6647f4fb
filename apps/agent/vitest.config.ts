import { beemeshVitestConfig } from "@beemesh/vitest-config"
import { defineConfig } from "vitest/config"

/**
 * E2E files two at a time (`e2eWorkers: 2`: 1140 s one after another, ~620 s so). The files are
 * made safe for it: images built once in test/e2e/globalSetup.ts; the rootless user's store held
 * by one file at a time (test/e2e/rootlessUser.ts); simulated-host sweeps leave live runs alone.
 */
const base = beemeshVitestConfig({ e2eWorkers: 2, e2eGlobalSetup: ["test/e2e/globalSetup.ts"] })

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
