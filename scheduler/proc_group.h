/* A task attempt's processes: the task child leads its own process group
 * (setsid at spawn) and marks its environment, so that what it leaves
 * behind after its driver died can be told from anyone else's. */
#ifndef CF_PROC_GROUP_H
#define CF_PROC_GROUP_H

#include <stdint.h>

/* Reads field 22 (start time in clock ticks) of /proc/PID/stat; 0 if the
 * process does not exist or cannot be read. Tells a live pid from a
 * reused one. */
int64_t cf_proc_start_time(int64_t pid);

/* In the task child, before the plugin runs: exports
 * COSTFLOW_TASK_GROUP=<pid>:<start time>, which every process the task
 * starts inherits. */
void cf_proc_mark_group(void);

/* Kills (SIGKILL) what is left of an attempt whose driver died. If the
 * child itself is still the same process (pid + start time): its whole
 * process group. If it is gone: the members of its group that carry its
 * COSTFLOW_TASK_GROUP mark (a shell's pipeline), one by one, never a
 * group whose leader's pid was reused. Nothing when that cannot be told
 * (an unreadable /proc), nor for pid 1 or our own group. */
void cf_proc_kill_orphan(int64_t pid, int64_t pid_start);

#endif
