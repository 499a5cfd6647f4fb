/**
 * glibc's malloc settings for the sidecar (the Containerfile's `ENV`; the footprint bench starts
 * its sidecars with the same, and a unit test checks the two agree).
 *
 * Why: by default glibc raises its mmap threshold as large blocks are freed (up to 32 MiB), after
 * which the sidecar's 64 KiB socket reads and crypto buffers come from the heap, whose freed
 * memory stays resident unless it is at the top; and each thread that allocates (V8's platform
 * workers) gets its own arena. Fixed 128 KiB thresholds (blocks above it are mmapped and returned
 * when freed; the heap's top is trimmed past 128 KiB) and one arena: measured with the sidecar
 * bench, 1.5–2 MiB less private memory idle, less under 100 connections, with the in-process data
 * plane (bulk CPU per MiB, new connections per second) within the run-to-run noise.
 */
export const SIDECAR_GLIBC_TUNABLES =
  "glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072"

/** The environment that applies them to a process linked with glibc (2.26 or later). */
export const mallocEnvironment: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: SIDECAR_GLIBC_TUNABLES,
}
