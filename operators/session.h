/* operators/session.h -- session windows: per-key open sessions, merging,
 * retractions and lateness (SPEC §4).
 *
 * Session windows are one kind of the window operator (window.h): the runtime
 * reaches them through weir_window_vt like tumbling and sliding windows. The
 * worker-side functions session.c implements (weir_session_process,
 * weir_session_detach, weir_session_free_keys) are declared with the state
 * they work on in operators/window_state.h; this header only names the
 * concept and its rules so a reader finds them.
 *
 * Rules (SPEC §4), with G the gap and L the allowed lateness:
 *   - an event at t opens [t, t+G); a session is [first, last+G);
 *   - the *live* sessions of a key are those with end + L > the watermark the
 *     record is judged against; if [t, t+G) overlaps or touches (a <= d and
 *     c <= b for [a,b), [c,d)) any live session, all of them merge with the
 *     event into one session -- the event is not late;
 *   - otherwise the event is late when t+G+L <= watermark (deadline t+G+L),
 *     else it opens a new session;
 *   - on a merge, every session that had fired and no longer exists with the
 *     same [start, end) gets a retraction record at once; the merged session
 *     fires when the watermark reaches its end (at once if it already has);
 *     a fired session whose bounds do not change just re-emits;
 *   - the merged session shows the key values of the part created first.
 * Thread: the owning worker. */
#ifndef WEIR_OPERATORS_SESSION_H
#define WEIR_OPERATORS_SESSION_H

#include "operators/window_state.h"

#endif
