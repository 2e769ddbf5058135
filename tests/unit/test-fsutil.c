/* core/fsutil.c: cf_mkdir_p on an empty path, nested, existing and
 * blocked paths. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cf_test.h"
#include "costflow/common.h"

/* A fresh temp folder, made the working folder; caller frees. */
static char *enter_tmpdir(void) {
  char t[] = "/tmp/cf-fsutil-XXXXXX";
  CF_ASSERT(mkdtemp(t) != NULL);
  CF_ASSERT_EQ(0, chdir(t));
  return cf_strdup(t);
}

static void rm_rf(const char *dir) {
  char *cmd = cf_asprintf("rm -rf '%s'", dir);
  if (system(cmd) != 0) {}
  cf_free(cmd);
}

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  CF_ASSERT(d != NULL);
  for (struct dirent *e; (e = readdir(d));)
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  closedir(d);
  return n;
}

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* "" names no folder: an error, as mkdir("") gives, and nothing made. */
CF_TEST(mkdir_p_empty_is_enoent) {
  char *dir = enter_tmpdir();
  CF_ASSERT_EQ(-ENOENT, cf_mkdir_p("", 0755));
  CF_ASSERT_EQ(0, entries("."));
  rm_rf(dir);
  cf_free(dir);
}

CF_TEST(mkdir_p_nested_existing_blocked) {
  char *dir = enter_tmpdir();
  CF_ASSERT_EQ(0, cf_mkdir_p("a/b/c", 0755));
  CF_ASSERT(is_dir("a/b/c"));
  CF_ASSERT_EQ(0, cf_mkdir_p("a/b/c", 0755));         /* already there */
  CF_ASSERT_EQ(0, cf_mkdir_p("a/x/", 0755));          /* trailing slash */
  CF_ASSERT(is_dir("a/x"));
  char *abs = cf_asprintf("%s/d/e", dir);
  CF_ASSERT_EQ(0, cf_mkdir_p(abs, 0755));
  CF_ASSERT(is_dir(abs));
  int fd = open("f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  CF_ASSERT(fd >= 0);
  close(fd);
  CF_ASSERT_EQ(-ENOTDIR, cf_mkdir_p("f/g/h", 0755));  /* a file in the way */
  CF_ASSERT_EQ(-ENOTDIR, cf_mkdir_p("f", 0755));      /* ... or there */
  CF_ASSERT_EQ(0, mkdir("g", 0755));
  CF_ASSERT_EQ(0, symlink("../f", "g/l"));            /* ... behind a link */
  CF_ASSERT_EQ(-ENOTDIR, cf_mkdir_p("g/l", 0755));
  CF_ASSERT_EQ(0, symlink("../a", "g/la"));           /* a link to a folder */
  CF_ASSERT_EQ(0, cf_mkdir_p("g/la", 0755));
  cf_free(abs);
  rm_rf(dir);
  cf_free(dir);
}

CF_TEST_MAIN()
