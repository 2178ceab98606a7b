/* fuzz_apireq.c: the API request decoders on arbitrary input. The first byte
 * picks a mode:
 *   0: the rest is cmd || flags || args for apireq_args_decode;
 *   1: the next byte picks one of the commands (flags 0), the rest is its args;
 *   2: an ACC_API request (inline body); 3: the same with the body "in a memfd"
 *      (the first 12 bytes are the message, the rest the bulk data);
 *   4: an ACC_API answer (inline); 5: with bulk data as in 3 (36 + 4 + n);
 *   6: URL text and invitation text;
 *   7: a request body opened under a fixed key, and the rest sealed as args and
 *      opened again; 8: the same for responses; 9: a registration body.
 * What decodes must re-encode to the same bytes (the layouts are canonical);
 * what is sealed must open to what went in. */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/apireq.h"

#define TS 1767225600000ull

static uint8_t key[APIREQ_KEY_BYTES];

static const uint8_t cmds[] = {
	APIREQ_ACCOUNT_INFO,      APIREQ_ACCOUNT_DELETE,    APIREQ_PRIVATE_GET,
	APIREQ_PRIVATE_SET,       APIREQ_ADDRESS_ADD_NORMAL, APIREQ_ADDRESS_ADD_SHIELD,
	APIREQ_ADDRESS_DELETE,    APIREQ_ADDRESS_SET_FLAGS, APIREQ_MSG_BROWSE,
	APIREQ_MSG_DELETE,        APIREQ_MSG_EMPTY,         APIREQ_MSG_UPLOAD,
	APIREQ_MSG_SEND_INTERNAL, APIREQ_ADMIN_LIST_USERS,  APIREQ_ADMIN_SET_LEVEL,
	APIREQ_ADMIN_SET_LIMITS,  APIREQ_ADMIN_INVITE,      APIREQ_ADMIN_DELETE_USER,
};

static void setup(void)
{
	static int done;
	if (done)
		return;
	if (sodium_init() < 0)
		abort();
	memset(key, 0x42, sizeof(key));
	done = 1;
}

static void same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen || (alen && memcmp(a, b, alen) != 0))
		abort();
}

static void args(const uint8_t *p, size_t n)
{
	struct apireq_args a;
	int rc = apireq_args_decode(&a, p, n);
	if (rc != 0) {
		if (rc != -EBADMSG)
			abort();
		return;
	}
	struct wr w = WR_INIT;
	if (apireq_args_encode(&w, &a) != 0)
		abort();
	same(w.p, w.len, p, n);
	wr_free(&w);
}

static void chan_req(const uint8_t *p, size_t n, bool bulk)
{
	struct apireq_chan_req q;
	size_t head = bulk ? (n < APIREQ_CHAN_REQ_BYTES ? n : APIREQ_CHAN_REQ_BYTES) : n;
	if (apireq_chan_req_decode(&q, p, head, p + head, n - head, bulk) != 0)
		return;
	struct wr w = WR_INIT;
	if (apireq_chan_req_encode(&w, &q, bulk) != 0)
		abort();
	if (!bulk)
		same(w.p, w.len, p, n);
	else
		same(w.p, w.len, p, head);
	wr_free(&w);
}

static void chan_answer(const uint8_t *p, size_t n, bool bulk)
{
	struct apireq_chan_answer a;
	size_t head = n;
	if (bulk) {
		/* status, cmd, disposition, reserved, key, and a forward header */
		head = n < APIREQ_CHAN_ANSWER_BYTES + APIREQ_FORWARD_BYTES
		           ? n
		           : APIREQ_CHAN_ANSWER_BYTES + APIREQ_FORWARD_BYTES;
		if (n > head && p[2] == APIREQ_DISP_FORWARD) {
			size_t extra = p[APIREQ_CHAN_ANSWER_BYTES + 2];
			head = head + extra <= n ? head + extra : n;
		} else if (n >= APIREQ_CHAN_ANSWER_BYTES && p[2] != APIREQ_DISP_FORWARD) {
			head = APIREQ_CHAN_ANSWER_BYTES;
		}
	}
	if (apireq_chan_answer_decode(&a, p, head, p + head, n - head, bulk) != 0)
		return;
	struct wr w = WR_INIT;
	if (apireq_chan_answer_encode(&w, &a, bulk && a.status == 0) != 0)
		abort();
	same(w.p, w.len, p, head);
	wr_free(&w);
}

static void texts(const uint8_t *p, size_t n)
{
	uint64_t ts;
	uint16_t uid;
	char t[APIREQ_INVITE_TEXT_LEN + 1];
	if (apireq_url_from_text((const char *)p, n, &ts, &uid) == 0) {
		apireq_url_to_text(t, ts, uid);
		same((const uint8_t *)t, strlen(t), p, n);
	}
	uint8_t inv[APIREQ_INVITE_BYTES];
	if (apireq_invite_from_text(inv, (const char *)p, n) == 0) {
		apireq_invite_to_text(t, inv);
		same((const uint8_t *)t, strlen(t), p, n);
	}
}

static void requests(const uint8_t *p, size_t n)
{
	uint8_t *plain = malloc(n + 1);
	size_t plen;
	if (!plain)
		abort();
	if (apireq_open(plain, n + 1, &plen, key, TS, 7, p, n) == 0 && plen != n - APIREQ_OVERHEAD)
		abort();
	/* Seal the input as arguments and open it again. */
	size_t blen = apireq_body_len(n);
	uint8_t *body = malloc(blen + 1);
	uint8_t *back = malloc(blen + 1);
	if (!body || !back)
		abort();
	if (apireq_seal(body, blen, key, TS, 7, 3, 0, p, n) != 0 ||
	    apireq_open(back, blen, &plen, key, TS, 7, body, blen) != 0 || plen != n + 2 ||
	    back[0] != 3 || back[1] != 0)
		abort();
	same(back + 2, n, p, n);
	if (apireq_open(back, blen, &plen, key, TS, 8, body, blen) != -EBADMSG)
		abort();
	free(plain);
	free(body);
	free(back);
}

static void responses(const uint8_t *p, size_t n)
{
	uint8_t status;
	const uint8_t *data;
	size_t dlen;
	uint8_t *plain = malloc(n + 1);
	if (!plain)
		abort();
	if (apireq_response_open(plain, n + 1, key, TS, 7, p, n, &status, &data, &dlen) == 0 &&
	    dlen > n)
		abort();
	size_t blen = apireq_response_len(n);
	uint8_t *body = malloc(blen);
	uint8_t *back = malloc(blen);
	if (!body || !back)
		abort();
	if (apireq_response_seal(body, blen, key, TS, 7, 4, p, n) != 0 ||
	    apireq_response_open(back, blen, key, TS, 7, body, blen, &status, &data, &dlen) != 0 ||
	    status != 4 || (blen - APIREQ_OVERHEAD) % APIREQ_RESP_BLOCK != 0)
		abort();
	same(data, dlen, p, n);
	free(plain);
	free(body);
	free(back);
}

static void registrations(const uint8_t *p, size_t n)
{
	uint16_t wanted;
	uint8_t uak[APIREQ_KEY_BYTES], epk[APIREQ_EPK_BYTES];
	if (apireq_register_open(key, TS, APIREQ_UID_REGISTER, p, n, &wanted, uak, epk) == 0 &&
	    (sodium_is_zero(uak, sizeof(uak)) || (wanted > APIREQ_UID_MAX && wanted != 0xFFFF)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] % 10) {
	case 0:
		args(p, n);
		break;
	case 1:
		if (n >= 1) {
			uint8_t *buf = malloc(n + 1);
			if (!buf)
				abort();
			buf[0] = cmds[p[0] % sizeof(cmds)];
			buf[1] = 0;
			memcpy(buf + 2, p + 1, n - 1);
			args(buf, n + 1);
			free(buf);
		}
		break;
	case 2:
		chan_req(p, n, false);
		break;
	case 3:
		chan_req(p, n, true);
		break;
	case 4:
		chan_answer(p, n, false);
		break;
	case 5:
		chan_answer(p, n, true);
		break;
	case 6:
		texts(p, n);
		break;
	case 7:
		requests(p, n);
		break;
	case 8:
		responses(p, n);
		break;
	default:
		registrations(p, n);
		break;
	}
	return 0;
}
