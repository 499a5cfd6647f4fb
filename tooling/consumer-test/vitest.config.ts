import { beemeshVitestConfig } from "@beemesh/vitest-config"

// One npm install per library, each several seconds to minutes on a cold cache: one at a time.
export default beemeshVitestConfig({ e2eTimeoutMs: 600_000 })
