/* msgtool.c: makes and reads Messages (PROTOCOL.md section 5) for the
 * integration tests, which are written in Python. Not installed.
 *   msgtool ext SUBJECT BODY [FROM]   ExtMsg to stdout (as Deliver would make it)
 *   msgtool upl KIND NAME < data      UplMsg (KIND: upload | attachment | source)
 *   msgtool int SUBJECT BODY          IntMsg, a system message
 *   msgtool show < msg                prints "type N", then "subject ...",
 *                                     "body ..." / "name ..." / "size N" */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/message.h"
#include "common/util.h"

#define MSGTOOL_IN_MAX (MESSAGE_MAX_BYTES + 1)

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint8_t *read_stdin(size_t *ret_len)
{
	uint8_t *p = xmalloc(MSGTOOL_IN_MAX);
	size_t n = fread(p, 1, MSGTOOL_IN_MAX, stdin);
	if (ferror(stdin) || n >= MSGTOOL_IN_MAX)
		fatalx("cannot read stdin (or it is too large)");
	*ret_len = n;
	return p;
}

static struct msg_str str(const char *s) { return (struct msg_str){ (const uint8_t *)s, strlen(s) }; }

static int emit(struct wr *w, int rc)
{
	if (rc < 0) {
		fprintf(stderr, "msgtool: encoding failed (%d)\n", rc);
		return 1;
	}
	fwrite(w->p, 1, w->len, stdout);
	wr_free(w);
	return 0;
}

static void show_str(const char *name, struct msg_str s)
{
	printf("%s ", name);
	fwrite(s.p, 1, s.len, stdout);
	printf("\n");
}

static int show(void)
{
	size_t len;
	uint8_t *p = read_stdin(&len);
	int type = msg_check(p, len);
	if (type < 0) {
		fprintf(stderr, "msgtool: not a valid Message (%d)\n", type);
		return 1;
	}
	printf("type %d\n", type);
	if (type == MSG_EXT) {
		struct msg_ext m;
		if (msg_ext_decode(&m, p, len) < 0)
			return 1;
		show_str("subject", m.subject);
		show_str("from", m.hdr_from);
		show_str("body", m.body);
	} else if (type == MSG_INT) {
		struct msg_int m;
		if (msg_int_decode(&m, p, len) < 0)
			return 1;
		show_str("subject", m.subject);
		show_str("body", m.body);
	} else if (type == MSG_UPL) {
		struct msg_upl m;
		if (msg_upl_decode(&m, p, len) < 0)
			return 1;
		printf("kind %u\n", m.kind);
		show_str("name", m.name);
		printf("size %zu\n", m.data.len);
	}
	free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (sodium_init() < 0)
		return 1;
	struct wr w = WR_INIT;
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "ext") == 0) {
		struct msg_ext m = { 0 };
		m.ts = now_ms();
		randombytes_buf(&m.ref, sizeof(m.ref));
		m.ref |= 1;
		m.ip_family = MSG_IP_V4;
		m.ip[0] = 192, m.ip[1] = 0, m.ip[2] = 2, m.ip[3] = 1;
		m.tz_minutes = MSG_TZ_NONE;
		m.date_delta = MSG_DATE_DELTA_NONE;
		m.env_from = str("sender@example.net");
		m.env_to = str("user");
		m.helo = str("mail.example.net");
		m.hdr_from = str(argc == 5 ? argv[4] : "sender@example.net");
		m.subject = str(argv[2]);
		m.body = str(argv[3]);
		return emit(&w, msg_ext_encode(&w, &m));
	}
	if (argc == 4 && strcmp(argv[1], "upl") == 0) {
		struct msg_upl m = { 0 };
		m.ts = now_ms();
		if (strcmp(argv[2], "upload") == 0) {
			m.kind = MSG_UPL_USER;
		} else if (strcmp(argv[2], "attachment") == 0) {
			m.kind = MSG_UPL_ATTACHMENT;
			m.parent = 1;
			m.media_type = str("application/octet-stream");
		} else if (strcmp(argv[2], "source") == 0) {
			m.kind = MSG_UPL_SOURCE;
			m.parent = 1;
		} else {
			return 2;
		}
		size_t len;
		uint8_t *data = read_stdin(&len);
		m.name = str(argv[3]);
		m.data = (struct msg_str){ data, len };
		int rc = emit(&w, msg_upl_encode(&w, &m));
		free(data);
		return rc;
	}
	if (argc == 4 && strcmp(argv[1], "int") == 0) {
		struct msg_int m = { 0 };
		m.ts = now_ms();
		m.kind = MSG_INT_SYSTEM;
		m.subject = str(argv[2]);
		m.body = str(argv[3]);
		return emit(&w, msg_int_encode(&w, &m));
	}
	if (argc == 2 && strcmp(argv[1], "show") == 0)
		return show();
	fprintf(stderr, "usage: msgtool ext SUBJECT BODY [FROM] | upl KIND NAME < data | "
	                "int SUBJECT BODY | show < msg\n");
	return 2;
}
