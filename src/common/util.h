/* util.h: allocation that cannot fail, logging with journald priority prefixes,
 * and the fatal paths. Every daemon and tool uses these; see docs/ARCHITECTURE.md. */
#ifndef ALLEARS_UTIL_H
#define ALLEARS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define WUR __attribute__((warn_unused_result))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

/* Allocation failure is fatal (style.md: Postfix mymalloc). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Logs go to stderr as "<N>text\n"; journald maps <N> to the priority.
 * Never log an address, subject, body, key or client IP (docs/SECURITY.md). */
void log_msg(int priority, const char *fmt, ...) PRINTF(2, 3);
void log_set_threshold(int max_priority);
#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* fatal: the environment failed (appends strerror(errno)); fatalx: a bug. */
NORETURN void fatal(const char *fmt, ...) PRINTF(1, 2);
NORETURN void fatalx(const char *fmt, ...) PRINTF(1, 2);

/* Standard base64 (with padding), strictly: every byte of text must be in the
 * alphabet, '=' or ignore (may be NULL), checked before libsodium decodes it,
 * since libsodium 1.0.18's decoder takes bytes >= 0x80 for letters; the whole
 * text must decode. Returns 0 with *ret_len, or -EINVAL. */
int b64_decode_strict(uint8_t *out, size_t cap, size_t *ret_len, const char *text, size_t len,
                      const char *ignore) WUR;

#endif
