/* shell: runs `command` with /bin/sh -c; non-zero exit fails the task.
 * The command inherits the attempt's stdout/stderr (its log) and gets
 * COSTFLOW_DS, COSTFLOW_DAG, COSTFLOW_TASK, COSTFLOW_RUN_ID and
 * COSTFLOW_TRY in its environment, plus the `env` param's entries. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "costflow/plugin.h"

static const struct cf_param_spec params[] = {
  {"command", CF_PARAM_STRING, 1, NULL, "shell command run by /bin/sh -c"},
  {"env", CF_PARAM_MAP, 0, NULL, "extra environment variables"},
  {"cwd", CF_PARAM_STRING, 0, NULL,
   "working directory (relative: to the DAG file's folder)"},
};

static int run(struct cf_plugin_ctx *ctx, const struct cf_host_api *api) {
  const char *cmd = api->param(ctx, "command");
  const char *cwd = api->param(ctx, "cwd");
  if (!cmd) {
    api->log(ctx, CF_LOG_ERROR, "param 'command' is missing");
    return CF_RESULT_FAIL;
  }
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    api->log(ctx, CF_LOG_ERROR, "fork: %s", strerror(errno));
    return CF_RESULT_FAIL;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* die with the attempt */
    char tryno[16];
    snprintf(tryno, sizeof tryno, "%d", api->try_number(ctx));
    setenv("COSTFLOW_DS", api->logical_date(ctx), 1);
    setenv("COSTFLOW_DAG", api->dag_id(ctx), 1);
    setenv("COSTFLOW_TASK", api->task_id(ctx), 1);
    setenv("COSTFLOW_RUN_ID", api->run_id(ctx), 1);
    setenv("COSTFLOW_TRY", tryno, 1);
    setenv("COSTFLOW_HOME", api->home(ctx), 1);
    size_t n = api->param_count(ctx, "env");
    for (size_t i = 0; i < n; i++) {
      const char *k = api->param_key(ctx, "env", i);
      const char *v = api->param_item(ctx, "env", i);
      if (k && v) setenv(k, v, 1);
    }
    if (chdir(api->dag_dir(ctx)) < 0 || (cwd && *cwd && chdir(cwd) < 0)) {
      fprintf(stderr, "shell: cannot enter cwd '%s': %s\n",
              cwd ? cwd : api->dag_dir(ctx), strerror(errno));
      _exit(126);
    }
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return CF_RESULT_FAIL;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return CF_RESULT_OK;
  if (WIFSIGNALED(st))
    api->log(ctx, CF_LOG_ERROR, "command killed by signal %d (%s)",
             WTERMSIG(st), strsignal(WTERMSIG(st)));
  else
    api->log(ctx, CF_LOG_ERROR, "command exited with status %d",
             WEXITSTATUS(st));
  return CF_RESULT_FAIL;
}

static const struct cf_plugin desc = {
  CF_PLUGIN_ABI, sizeof(struct cf_plugin), "shell",
  "Run a shell command; non-zero exit fails the task",
  params, sizeof params / sizeof *params, run,
};
CF_PLUGIN_EXPORT(desc)
