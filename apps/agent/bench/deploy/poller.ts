/**
 * The deploy benchmark's client image, `localhost/beemesh/bench-poller:1` (busybox-static only):
 * asks each URL of `$POLL_URLS` in turn, one request every 20 ms, and prints a line only for an
 * answer. It never probes anything that could drop silently, so it never waits out a timeout
 * between polls. Its log, written by conmon with a nanosecond timestamp per line, is how the
 * benchmark sees the first answer on both sides (beemesh and plain Podman).
 */
import { existsSync } from "node:fs"
import { build } from "../../demo/images"

export const POLLER_IMAGE = "localhost/beemesh/bench-poller:1"
/** A line the poller prints once, when its loop starts. */
export const POLLER_STARTED = "poller: started"

const POLLER_SCRIPT = `trap 'exit 0' TERM
set -- $POLL_URLS
n=$#
i=0
echo "${POLLER_STARTED}"
while true; do
  eval "url=\\\${$((i % n + 1))}"
  if answer=$(/bin/busybox timeout 2 /bin/busybox wget -q -O - "$url" 2>/dev/null); then
    echo "answer: $answer"
  fi
  i=$((i + 1))
  /bin/busybox usleep 20000
done
`

export const buildPollerImage = () => {
  if (!existsSync("/bin/busybox"))
    throw new Error(
      "/bin/busybox is missing: apt-get install busybox-static (tooling/scripts/host-setup.sh)",
    )
  build(
    POLLER_IMAGE,
    {
      "bin/busybox": { copyFrom: "/bin/busybox", mode: 0o755 },
      "poll.sh": { content: POLLER_SCRIPT, mode: 0o755 },
    },
    `FROM scratch
COPY bin/busybox /bin/busybox
COPY poll.sh /poll.sh
ENTRYPOINT ["/bin/busybox", "sh", "/poll.sh"]
`,
  )
}
