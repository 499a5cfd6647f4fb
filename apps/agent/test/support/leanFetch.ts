/**
 * Setup of the `unit-lean` test project: the route tests run again with @beemesh/service's lean
 * Request/Response/Headers as the globals (as `serveHttp` installs them in the agent), so hono
 * answers every `app.request()` with the classes the agent really serves with.
 */
import { LeanFetch } from "@beemesh/service"

LeanFetch.install()
if (!(new Response("") instanceof LeanFetch.Response))
  throw new Error("the lean fetch classes are not the globals: the unit-lean project tests nothing")
