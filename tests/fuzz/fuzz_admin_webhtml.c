/* fuzz_admin_webhtml.c: libFuzzer target for the page check of `allears-admin
 * web` (src/admin/webhtml.c, docs/PROTOCOL.md section 21.1): any bytes are
 * either refused with a message or give a CSP that a response field can
 * carry (printable ASCII, within the limit, in the fixed shape). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/webhtml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhtml_result r;
	char err[WEBHTML_ERR_MAX];
	if (webhtml_check(data, size, &r, err) != 0) {
		if (err[0] == '\0' || strnlen(err, WEBHTML_ERR_MAX) == WEBHTML_ERR_MAX)
			abort();
		return 0;
	}
	size_t n = strlen(r.csp);
	if (n == 0 || n > WEBPAGE_CSP_MAX || strncmp(r.csp, "default-src 'none'; script-src ", 31))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)r.csp[i] < 0x20 || (uint8_t)r.csp[i] > 0x7e)
			abort();
	if (!strstr(r.csp, "; frame-ancestors 'none'"))
		abort();
	return 0;
}
