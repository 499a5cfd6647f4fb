import { beemeshVitestConfig } from "@beemesh/vitest-config"

// Integration files share one host Podman and build the same test images: run them one at a time.
export default beemeshVitestConfig({ integrationSequential: true })
