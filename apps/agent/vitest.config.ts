import { beemeshVitestConfig } from "@beemesh/vitest-config"
import { defineConfig } from "vitest/config"

const base = beemeshVitestConfig()

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
