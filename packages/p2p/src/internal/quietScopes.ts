import type { ComponentLogger, Logger } from "@libp2p/interface"
import { enabled } from "@libp2p/logger"

const noop = () => {}

/** Whether any line of the namespace (its own, `:error`, `:trace`) would be written. */
const anyEnabled = (namespace: string): boolean =>
  enabled(namespace) || enabled(`${namespace}:error`) || enabled(`${namespace}:trace`)

/** A logger that writes nothing; its own scopes are real again if logging covers them. */
const quiet = (base: ComponentLogger, namespace: string): Logger =>
  Object.assign(() => {}, {
    error: noop,
    trace: noop,
    enabled: false,
    newScope: (scope: string) => scoped(base, `${namespace}:${scope}`),
  })

const scoped = (base: ComponentLogger, namespace: string): Logger =>
  anyEnabled(namespace)
    ? withQuietScopes(base, base.forComponent(namespace), namespace)
    : quiet(base, namespace)

const withQuietScopes = (base: ComponentLogger, logger: Logger, namespace: string): Logger =>
  Object.assign(logger, {
    newScope: (scope: string) => scoped(base, `${namespace}:${scope}`),
  })

/**
 * libp2p's loggers, but a scope nothing would be written for costs a small object instead of
 * three `debug` instances. libp2p opens scopes per connection and per stream (yamux's stream,
 * multistream-select at both ends); each built its `debug` instances, matched their names
 * against the enabled patterns and asked whether stderr is a terminal (a system call), all for
 * loggers that stay silent unless DEBUG names them. A scope is decided when it is opened: one
 * opened while logging did not cover it stays silent (logging turned on later applies to the
 * scopes opened after).
 */
export const quietScopes = (base: ComponentLogger): ComponentLogger => ({
  forComponent: (name: string) => withQuietScopes(base, base.forComponent(name), name),
})
