import { Effect } from "effect"
import { podmanClientContract } from "../../src/testing/contract.js"
import { ensureTestImages } from "../support/images.js"
import { testClientLayer } from "../support/layer.js"

podmanClientContract("real Podman", testClientLayer, {
  image: ensureTestImages(process.execPath).pipe(Effect.map((i) => i.busybox)),
  prefix: "contract-real",
})
