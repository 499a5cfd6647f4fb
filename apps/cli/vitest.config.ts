import { beemeshVitestConfig } from "@beemesh/vitest-config"

export default beemeshVitestConfig()
