/**
 * `GET /v1/traffic` (operator): service traffic per caller→callee pair as JSON, the same series
 * as the `beemesh_service_*` metrics (see ServiceTraffic); read by `beemesh top` and the dashboard.
 */
import { Hono } from "hono"
import type { TrafficView } from "../ServiceTraffic"
import { operatorOnly } from "./OperatorAuth"

export const trafficRoutes = (options: {
  readonly operatorToken: string
  readonly traffic: () => TrafficView
}) => new Hono().get("/", operatorOnly(options.operatorToken), (c) => c.json(options.traffic()))
