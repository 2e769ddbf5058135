/* A tiny test runner: tests declare themselves with CF_TEST(name); each
 * runs in its own forked child so a crash fails only that test.
 * Usage: test-binary [name-substring]. Prints "N passed, N failed". */
#ifndef CF_TEST_H
#define CF_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct cf_test_case { const char *name; void (*fn)(void); };
#define CF_TEST_MAX 512
extern struct cf_test_case cf_test_cases[CF_TEST_MAX];
extern int cf_test_count;

#define CF_TEST(name)                                                   \
  static void cf_test_##name(void);                                     \
  __attribute__((constructor)) static void cf_test_reg_##name(void) {   \
    if (cf_test_count < CF_TEST_MAX)                                     \
      cf_test_cases[cf_test_count++] =                                   \
          (struct cf_test_case){#name, cf_test_##name};                  \
  }                                                                     \
  static void cf_test_##name(void)

#define CF_FAIL_(...)                                                   \
  do {                                                                  \
    fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);                  \
    fprintf(stderr, __VA_ARGS__);                                       \
    fputc('\n', stderr);                                                \
    exit(1);                                                            \
  } while (0)

#define CF_ASSERT(c)                                                    \
  do { if (!(c)) CF_FAIL_("assertion failed: %s", #c); } while (0)
#define CF_ASSERT_EQ(a, b)                                              \
  do {                                                                  \
    long long a_ = (long long)(a), b_ = (long long)(b);                 \
    if (a_ != b_) CF_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);   \
  } while (0)
#define CF_ASSERT_STR(a, b)                                             \
  do {                                                                  \
    const char *a_ = (a), *b_ = (b);                                    \
    if (!a_ || !b_ || strcmp(a_, b_))                                   \
      CF_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",\
               b_ ? b_ : "(null)");                                     \
  } while (0)
#define CF_ASSERT_CONTAINS(hay, needle)                                 \
  do {                                                                  \
    const char *h_ = (hay), *n_ = (needle);                             \
    if (!h_ || !strstr(h_, n_))                                         \
      CF_FAIL_("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);\
  } while (0)

#define CF_TEST_MAIN()                                                  \
  struct cf_test_case cf_test_cases[CF_TEST_MAX];                       \
  int cf_test_count;                                                    \
  int main(int argc, char **argv) {                                     \
    int passed = 0, failed = 0;                                         \
    for (int i = 0; i < cf_test_count; i++) {                           \
      if (argc > 1 && !strstr(cf_test_cases[i].name, argv[1])) continue;\
      fflush(NULL);                                                     \
      pid_t pid = fork();                                               \
      if (pid == 0) { cf_test_cases[i].fn(); exit(0); }  /* LSan runs */ \
      int st = 0;                                                       \
      waitpid(pid, &st, 0);                                             \
      int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;                   \
      printf("%s %s", ok ? "ok  " : "FAIL", cf_test_cases[i].name);     \
      if (WIFSIGNALED(st)) printf(" (signal %d)", WTERMSIG(st));        \
      printf("\n");                                                     \
      ok ? passed++ : failed++;                                         \
    }                                                                   \
    printf("%d passed, %d failed\n", passed, failed);                   \
    return failed ? 1 : 0;                                              \
  }

#endif
