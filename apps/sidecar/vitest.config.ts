import { beemeshVitestConfig } from "@beemesh/vitest-config"

// Integration files share the sidecar image (built by the suite): run them one at a time.
export default beemeshVitestConfig({ integrationSequential: true })
