/** The process as commands see it: output, input, environment, clock. main.ts gives the real one. */
export interface Io {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
  readonly readStdin: () => Promise<string>
  /** Writes a response body to stdout as it arrives. */
  readonly pipeOut: (body: ReadableStream<Uint8Array>) => Promise<void>
  readonly env: Readonly<Record<string, string | undefined>>
  readonly home: string
  readonly now: () => number
  /** True when stdout is a terminal (progress lines overwrite each other only then). */
  readonly interactive: boolean
}
