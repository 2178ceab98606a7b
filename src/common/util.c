/* util.c: allocation wrappers, logging and fatal paths (see util.h). */
#include "common/util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_threshold = LOG_INFO;

void log_set_threshold(int max_priority) { log_threshold = max_priority; }

static void log_v(int priority, const char *fmt, va_list ap, const char *suffix) PRINTF(2, 0);
static void log_v(int priority, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	/* One write per line so concurrent writers do not interleave. */
	fprintf(stderr, "<%d>%s%s%s\n", priority, line, suffix ? ": " : "", suffix ? suffix : "");
}

void log_msg(int priority, const char *fmt, ...)
{
	if (priority > log_threshold)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_v(priority, fmt, ap, NULL);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;
	va_start(ap, fmt);
	log_v(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(EXIT_FAILURE);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fatal("malloc(%zu)", n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		fatal("calloc(%zu, %zu)", count, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		fatal("realloc(%zu)", n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		fatal("strdup");
	return p;
}

int b64_decode_strict(uint8_t *out, size_t cap, size_t *ret_len, const char *text, size_t len,
                      const char *ignore)
{
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '=' || (ignore && c && strchr(ignore, c))))
			return -EINVAL;
	}
	const char *end = NULL;
	size_t n = 0;
	if (sodium_base642bin(out, cap, text, len, ignore, &n, &end, sodium_base64_VARIANT_ORIGINAL) !=
	        0 ||
	    end != text + len)
		return -EINVAL;
	*ret_len = n;
	return 0;
}
