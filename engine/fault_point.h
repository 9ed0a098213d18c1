/* engine/fault_point.h -- named crash points for tests of the delivery
 * guarantees (issue: kill -9 between flush and commit, between commit and
 * checkpoint completion, ...).
 *
 * weir_fault_point(NAME) does nothing in the `weir` binary. In `weir-faults`
 * (built next to it, for tests only) it reads $WEIR_FAULT once: "NAME" or
 * "NAME:K" makes the K-th hit (default 1) of NAME log "fault point NAME" on
 * stderr and kill the process with SIGKILL, exactly like kill -9 at that
 * moment. Names in use are listed in tests/e2e/README.md.
 * Thread: any. */
#ifndef WEIR_ENGINE_FAULT_POINT_H
#define WEIR_ENGINE_FAULT_POINT_H

void weir_fault_point(const char *name);

#endif
