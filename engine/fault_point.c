/* engine/fault_point.c -- crash points for tests (see fault_point.h).
 *
 * Compiled twice: without WEIR_FAULT_POINTS (linked into `weir`) every point
 * is a no-op; with it (linked into `weir-faults`) $WEIR_FAULT arms one point.
 * Invariant: (1) an armed point kills with SIGKILL (no atexit handlers, no
 * flushes): what a crash leaves on disk is what the test sees. */
#include "engine/fault_point.h"

#ifdef WEIR_FAULT_POINTS
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_long hits;

void weir_fault_point(const char *name) {
    const char *spec = getenv("WEIR_FAULT");
    if (!spec || !*spec)
        return;
    size_t n = strcspn(spec, ":");
    if (strlen(name) != n || strncmp(spec, name, n) != 0)
        return;
    long want = spec[n] == ':' ? atol(spec + n + 1) : 1;
    if (atomic_fetch_add(&hits, 1) + 1 != want)
        return;
    char msg[160];
    int len = snprintf(msg, sizeof msg, "fault point %s: killing the process (hit %ld)\n", name, want);
    if (len > 0 && write(2, msg, (size_t)len) < 0) {
        /* nothing to do: we are about to die */
    }
    kill(getpid(), SIGKILL); /* (1) */
}
#else
void weir_fault_point(const char *name) { (void)name; }
#endif
