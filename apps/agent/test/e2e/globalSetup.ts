/**
 * Once per e2e run, before any file: the images the files share (the demo's orders and web apps,
 * the hostile app's two), built into root's Podman. Files run side by side (vitest.config.ts), so
 * none may rebuild a tag another one is running.
 */
import { buildDemoImages } from "../../demo/images"
import { buildHostileImages } from "./hostile"
import { requirePrerequisites } from "./support"

export default function setup() {
  requirePrerequisites()
  buildDemoImages()
  buildHostileImages()
}
