/* The daemon's control socket, $HOME/scheduler.sock (AF_UNIX stream).
 *
 * Protocol: the client sends one JSON object on one line (at most 4 KiB),
 * the daemon answers one JSON object on one line and closes:
 *   {"op":"ping"}                    -> {"ok":true,"pid":N}
 *   {"op":"drive","dag":"ID"}        -> {"ok":true}: the daemon will, on
 *       its next loop turn, start the queued/running runs of ID in the
 *       store that max_active_runs allows; or {"ok":false,"error":"..."}
 *       (the DAG is not loaded by the daemon, or paused, or the daemon is
 *       stopping): the caller then drives the runs itself
 *   {"op":"reload"}                  -> {"ok":true} (re-reads the DAGs)
 * Work itself travels through the store: the CLI creates or clears the run
 * rows, then sends "drive". */
#ifndef COSTFLOW_CONTROL_H
#define COSTFLOW_CONTROL_H

#include <stddef.h>

#define CF_CONTROL_MAX_LINE 4096

/* Client side (blocking; for CLI commands, never on the daemon's loop).
 * Sends `line` (no newline needed) and reads the reply into reply[size].
 * Returns 0, or -errno (e.g. -ENOENT/-ECONNREFUSED: no daemon). Gives up
 * after timeout_ms. */
int cf_control_request(const char *home, const char *line, char *reply,
                       size_t size, int timeout_ms);

#endif
