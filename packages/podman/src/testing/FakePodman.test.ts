import { Effect } from "effect"
import { podmanClientContract } from "./contract.js"
import { fakePodmanLayer } from "./FakePodman.js"

const image = "localhost/contract-fake:1"

podmanClientContract("FakePodman", fakePodmanLayer({ images: [image] }), {
  image: Effect.succeed(image),
  prefix: "contract-fake",
})
