/* call.c: one API request between its arrival and its answer (see call.h;
 * docs/PROTOCOL.md sections 10.4, 12.4, 12.8.3 and 14.3). */
#include "api/call.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/chanmsg.h"
#include "common/message.h"
#include "ipc/memfd.h"

struct apicall {
	struct apicall_ctx *x;
	struct apiconn *conn;
	uint64_t ts;
	uint16_t uid;
	uint16_t sto_type;
	uint8_t cmd;                   /* the request's command, from Account's answer */
	uint8_t key[APIREQ_KEY_BYTES]; /* K_resp, wiped when the call ends */
};

static void call_end(struct apicall *k, int status, uint8_t *buf, size_t body_len)
{
	sodium_memzero(k->key, sizeof(k->key));
	apiconn_answer(k->conn, status, buf, body_len);
	free(k);
}

/* An answer in clear, for a request that was not authenticated. */
static void answer_plain(struct apicall *k, int status)
{
	struct apicall_stats *st = &k->x->st;
	if (status == 503)
		st->unavailable++;
	else if (status == 500)
		st->failed++;
	else
		st->refused++;
	call_end(k, status, NULL, 0);
}

/* The encrypted answer (section 12.4): status and data = a || b. */
static void answer_sealed(struct apicall *k, uint8_t status, const uint8_t *a, size_t a_len,
                          const uint8_t *b, size_t b_len)
{
	uint8_t *joined = NULL;
	const uint8_t *data = a;
	size_t len = a_len + b_len;
	if (a_len && b_len) {
		joined = xmalloc(len);
		memcpy(joined, a, a_len);
		memcpy(joined + a_len, b, b_len);
		data = joined;
	} else if (b_len) {
		data = b;
	}
	size_t rlen = apireq_response_len(len);
	if (rlen == 0) {
		/* More than a response can carry: say so, inside the encryption. */
		status = CHST_INTERNAL;
		data = NULL;
		len = 0;
		rlen = apireq_response_len(0);
	}
	uint8_t *out = xmalloc(APIROUTE_HEAD_ROOM + rlen);
	if (apireq_response_seal(out + APIROUTE_HEAD_ROOM, rlen, k->key, k->ts, k->uid, status, data,
	                         len) < 0)
		fatalx("api: a response does not seal");
	free(joined);
	k->x->st.sealed++;
	call_end(k, 200, out, rlen);
}

/* ---- Storage (section 12.8.3) ---- */

static void storage_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd,
                         void *arg)
{
	struct apicall *k = arg;
	const uint8_t *bulk = NULL;
	size_t bulk_len = 0;

	if (status < 0) {
		if (fd >= 0)
			close(fd);
		answer_sealed(k, CHST_TEMPFAIL, NULL, 0, NULL, 0);
		return;
	}
	if (fd >= 0) {
		int rc = type == STO_BROWSE
		             ? chan_bulk_map(fd, p, len, APIREQ_RESP_DATA_MAX - APICALL_BROWSE_HEADER_BYTES,
		                             &bulk, &bulk_len)
		             : -EBADMSG;
		close(fd);
		if (rc < 0) {
			answer_sealed(k, CHST_INTERNAL, NULL, 0, NULL, 0);
			return;
		}
		p += CHAN_BULK_LEN_BYTES;
		len -= CHAN_BULK_LEN_BYTES;
	}
	bool ok_shape;
	if (type != k->sto_type || len < 1)
		ok_shape = false;
	else if (p[0] != CHST_OK)
		ok_shape = len == 1 && !bulk;
	else if (type == STO_BROWSE)
		ok_shape = bulk && len == APICALL_BROWSE_ANSWER_BYTES;
	else if (type == STO_STORE)
		ok_shape = len == 5;
	else
		ok_shape = len == 1;
	if (!ok_shape)
		answer_sealed(k, CHST_INTERNAL, NULL, 0, NULL, 0);
	else if (p[0] != CHST_OK)
		answer_sealed(k, p[0], NULL, 0, NULL, 0);
	else if (type == STO_STORE && k->cmd != APIREQ_MSG_UPLOAD)
		/* An internal message's envelope id is the recipient's business. */
		answer_sealed(k, CHST_OK, NULL, 0, NULL, 0);
	else
		answer_sealed(k, CHST_OK, p + 1, len - 1, bulk, bulk_len);
	if (bulk)
		memfd_unmap(bulk, bulk_len);
}

/* Makes the Storage call of a FORWARD answer; fd is the Message's memfd for
 * STO_STORE (kept by the caller). */
static void forward(struct apicall *k, const struct apireq_chan_answer *a, int fd)
{
	uint8_t payload[CHAN_BULK_LEN_BYTES + APIREQ_STO_ARGS_MAX];
	size_t n = 0;
	switch (a->sto_type) {
	case STO_BROWSE:
	case STO_DELETE:
	case STO_EMPTY:
		if (fd >= 0)
			goto bad;
		break;
	case STO_STORE:
		if (fd < 0)
			goto bad;
		le64_store(payload, a->data_len);
		n = CHAN_BULK_LEN_BYTES;
		break;
	default:
		goto bad;
	}
	memcpy(payload + n, a->sto_args, a->sto_args_len);
	n += a->sto_args_len;
	k->sto_type = a->sto_type;
	k->x->st.forwarded++;
	rpc_call(k->x->sto, a->sto_type, payload, n, fd, APICALL_STORAGE_TIMEOUT_MS, storage_done, k);
	return;
bad:
	answer_sealed(k, CHST_INTERNAL, NULL, 0, NULL, 0);
}

/* ---- Account (section 10.4) ---- */

static void account_done(int status, uint16_t type, const uint8_t *p, size_t len, int fd,
                         void *arg)
{
	struct apicall *k = arg;
	const uint8_t *bulk = NULL;
	size_t bulk_len = 0;
	struct apireq_chan_answer a;

	if (status < 0) {
		if (fd >= 0)
			close(fd);
		answer_plain(k, 503);
		return;
	}
	if (type != ACC_API)
		goto bad;
	if (fd >= 0) {
		if (chan_bulk_map(fd, p, len, APIREQ_RESP_DATA_MAX, &bulk, &bulk_len) < 0)
			goto bad;
		p += CHAN_BULK_LEN_BYTES;
		len -= CHAN_BULK_LEN_BYTES;
	}
	if (apireq_chan_answer_decode(&a, p, len, bulk, bulk_len, fd >= 0) < 0)
		goto bad;
	if (sodium_is_zero(a.key, sizeof(a.key))) {
		/* Not authenticated: a bare status in clear, nothing more. */
		int http = a.status == CHST_OK ? 500 : apiroute_status_of(a.status);
		sodium_memzero(&a, sizeof(a));
		if (bulk)
			memfd_unmap(bulk, bulk_len);
		if (fd >= 0)
			close(fd);
		answer_plain(k, http);
		return;
	}
	memcpy(k->key, a.key, sizeof(k->key));
	sodium_memzero(a.key, sizeof(a.key));
	k->cmd = a.cmd;
	if (a.status != CHST_OK || a.disp == APIREQ_DISP_REPLY)
		answer_sealed(k, a.status, a.data, a.data_len, NULL, 0);
	else
		forward(k, &a, fd);
	if (bulk)
		memfd_unmap(bulk, bulk_len);
	if (fd >= 0)
		close(fd);
	return;
bad:
	if (bulk)
		memfd_unmap(bulk, bulk_len);
	if (fd >= 0)
		close(fd);
	log_warn("api: Account sent an answer that does not decode");
	answer_plain(k, 500);
}

void apicall_dispatch(struct apiconn *c, const struct apiroute *r, const uint8_t *body,
                      size_t body_len, void *data)
{
	struct apicall *k = xcalloc(1, sizeof(*k));
	k->x = data;
	k->conn = c;
	k->ts = r->ts;
	k->uid = r->uid;

	struct apireq_chan_req rq = {
		.ts = r->ts, .uid = r->uid, .kind = r->kind, .body = body, .body_len = body_len,
	};
	bool in_memfd = APIREQ_CHAN_REQ_BYTES + body_len > RPC_PAYLOAD_MAX;
	struct wr w = WR_INIT;
	int fd = -1;
	if (in_memfd) {
		fd = memfd_from_buffer(body, body_len, "api-request");
		if (fd < 0) {
			log_err("api: cannot make a memfd: %s", strerror(-fd));
			answer_plain(k, 500);
			return;
		}
		wr_u64(&w, body_len);
	}
	if (apireq_chan_req_encode(&w, &rq, in_memfd) < 0) {
		/* The route let through only what section 10.4 accepts. */
		wr_free(&w);
		if (fd >= 0)
			close(fd);
		answer_plain(k, 400);
		return;
	}
	rpc_call(k->x->acc, ACC_API, w.p, w.len, fd, APICALL_ACCOUNT_TIMEOUT_MS, account_done, k);
	wr_free(&w);
	if (fd >= 0)
		close(fd);
}
