import { defineConfig } from "vitest/config"

/**
 * The three test projects every Beemesh package uses, separated by file name:
 * - unit:        `*.test.ts` under src/ or test/unit/ — pure logic, fast, no root.
 * - integration: `test/integration/**\/*.test.ts` — real slirp4netns, nftables, Podman, libp2p.
 * - e2e:         `test/e2e/**\/*.test.ts` — agents and sidecars as separate processes.
 * Select one with `vitest run --project <name>`.
 */
export interface BeemeshVitestOptions {
  /** Per-test timeout for integration tests (default 120 s: pods and namespaces take seconds). */
  readonly integrationTimeoutMs?: number
  /** Per-test timeout for e2e tests (default 300 s). */
  readonly e2eTimeoutMs?: number
  /** Run integration test files one at a time (for suites that share a host resource). */
  readonly integrationSequential?: boolean
  /**
   * E2E test files run at once (default 1: one after another). Files run side by side must not
   * share a host resource; those that do serialize themselves (apps/agent's rootless user).
   */
  readonly e2eWorkers?: number
  /** Run once before the e2e files (builds what they all use), as Vitest's `globalSetup`. */
  readonly e2eGlobalSetup?: ReadonlyArray<string>
}

export const beemeshVitestConfig = (options: BeemeshVitestOptions = {}) =>
  defineConfig({
    test: {
      projects: [
        {
          extends: true,
          test: {
            name: "unit",
            include: ["src/**/*.test.ts", "test/unit/**/*.test.ts"],
            testTimeout: 20_000,
          },
        },
        {
          extends: true,
          test: {
            name: "integration",
            include: ["test/integration/**/*.test.ts"],
            testTimeout: options.integrationTimeoutMs ?? 120_000,
            hookTimeout: options.integrationTimeoutMs ?? 120_000,
            fileParallelism: !options.integrationSequential,
          },
        },
        {
          extends: true,
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            testTimeout: options.e2eTimeoutMs ?? 300_000,
            hookTimeout: options.e2eTimeoutMs ?? 300_000,
            fileParallelism: (options.e2eWorkers ?? 1) > 1,
            maxWorkers: options.e2eWorkers ?? 1,
            ...(options.e2eGlobalSetup === undefined
              ? {}
              : { globalSetup: [...options.e2eGlobalSetup] }),
          },
        },
      ],
    },
  })
