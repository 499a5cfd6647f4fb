/*
 * Preloaded into the sidecar (the image's LD_PRELOAD; image/packedMmap.ts builds it): anonymous
 * mappings smaller than 32 MiB are placed by the kernel instead of at the address the caller
 * hinted.
 *
 * Why: V8 asks for every 256 KiB page of its heap at a random address (its own ASLR), which the
 * kernel grants; scattered over the 47-bit address space, each page then needs page-table pages of
 * its own at three levels, about 12 KiB of unswappable kernel memory per heap page: 0.9 MiB of page
 * tables for an idle sidecar, against 0.35 MiB with the pages packed together. A hint is advisory
 * (POSIX), so dropping it changes where a mapping lands and nothing else. Larger reservations keep
 * their hint: V8 places its code range near the node binary on purpose (short builtin calls), and
 * WebAssembly's guard regions are few. Fixed mappings and file mappings are left as they are.
 *
 * What it gives up: V8's placement of each heap page at its own random address, a hardening against
 * exploits of memory bugs that need to find the heap. The kernel still randomizes where the process's
 * mappings start (ASLR of the mmap base), so the heap's place differs in every process; only the
 * pages' places relative to each other become predictable. The sidecar runs only its own code:
 * untrusted peers and apps send it bytes, never JavaScript to run.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define KEEP_HINT_FROM (32UL << 20)

void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  if ((flags & MAP_ANONYMOUS) && !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) &&
      length < KEEP_HINT_FROM)
    addr = NULL;
  /* glibc's syscall() returns -1 with errno set on failure: MAP_FAILED, as mmap does. */
  return (void *)syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
}

void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
    __attribute__((alias("mmap")));
