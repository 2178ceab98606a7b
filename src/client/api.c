/* api.c: sealed API requests over HTTPS and the messages for what goes wrong
 * (docs/PROTOCOL.md sections 12, 14 and 15.5). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/api.h"
#include "client/exitcode.h"
#include "client/state.h"
#include "common/chanmsg.h"

int api_init(struct api *a, const struct config *cfg, const char *state_path)
{
	memset(a, 0, sizeof(*a));
	if (!cfg->server[0]) {
		snprintf(a->err, sizeof(a->err),
		         "no server configured: give --server HOST or put 'server = HOST' in the "
		         "config file");
		a->exit_code = CLIENT_EXIT_USAGE;
		return -EINVAL;
	}
	struct https_opts o = { .host = cfg->server,
		                    .port = cfg->port,
		                    .ca_file = cfg->ca,
		                    .timeout_ms = cfg->timeout_s * 1000u };
	a->https = https_new(&o);
	if (!a->https) {
		snprintf(a->err, sizeof(a->err), "cannot set up HTTPS for %s", cfg->server);
		a->exit_code = CLIENT_EXIT_ERROR;
		return -EINVAL;
	}
	snprintf(a->state_path, sizeof(a->state_path), "%s", state_path);
	snprintf(a->hostport, sizeof(a->hostport), strchr(cfg->server, ':') ? "[%s]:%u" : "%s:%u",
	         cfg->server, (unsigned)cfg->port);
	return 0;
}

void api_close(struct api *a)
{
	https_free(a->https);
	a->https = NULL;
}

void api_result_free(struct api_result *r)
{
	if (r->plain) {
		sodium_memzero(r->plain, r->plain_len);
		free(r->plain);
	}
	memset(r, 0, sizeof(*r));
}

const char *api_status_text(uint8_t st)
{
	switch (st) {
	case CHST_OK: return "done";
	case CHST_NOT_FOUND: return "not found";
	case CHST_EXISTS: return "already exists or in use";
	case CHST_LIMIT: return "a limit is reached (addresses, storage or count)";
	case CHST_INVALID: return "the server refused the request as invalid";
	case CHST_TEMPFAIL: return "server busy, try again";
	case CHST_DENIED: return "not allowed for your level";
	case CHST_INTERNAL: return "the server failed; nothing was changed";
	case CHST_FORBIDDEN: return "forbidden";
	case CHST_AUTH: return "wrong key or unknown user";
	case CHST_REPLAY: return "replayed request (your clock went backwards?)";
	case CHST_TIME: return "your clock is off from the server's";
	case CHST_SELF: return "that address is your own";
	case CHST_DECLINED: return "the recipient does not accept internal mail";
	case CHST_NOT_OWNER: return "you do not own the sender address";
	default: return "failed with an unknown status";
	}
}

int api_status_exit(uint8_t st)
{
	switch (st) {
	case CHST_OK: return CLIENT_EXIT_OK;
	case CHST_TEMPFAIL:
	case CHST_INTERNAL: return CLIENT_EXIT_NET;
	case CHST_AUTH:
	case CHST_REPLAY:
	case CHST_TIME: return CLIENT_EXIT_AUTH;
	default: return CLIENT_EXIT_ERROR;
	}
}

int api_https_exit(enum https_error e)
{
	return e == HTTPS_E_USAGE ? CLIENT_EXIT_ERROR : CLIENT_EXIT_NET;
}

int api_http_error(char *msg, size_t n, int status, bool has_date, int64_t date_s,
                   unsigned retry_after, uint64_t now_ms, const char *hostport, bool registering)
{
	switch (status) {
	case 400:
		snprintf(msg, n, "the server refused the request as malformed (HTTP 400)");
		return CLIENT_EXIT_ERROR;
	case 403:
		if (registering)
			snprintf(msg, n, "the invitation is unknown, already used or expired (HTTP 403)");
		else
			snprintf(msg, n, "wrong key or unknown user (HTTP 403)");
		return CLIENT_EXIT_AUTH;
	case 404:
	case 405:
		snprintf(msg, n, "no allears API at %s (HTTP %d)", hostport, status);
		return CLIENT_EXIT_NET;
	case 409:
		snprintf(msg, n, "replayed request (your clock went backwards?) (HTTP 409)");
		return CLIENT_EXIT_AUTH;
	case 411:
	case 413:
		snprintf(msg, n, "the server refused the request's size (HTTP %d)", status);
		return CLIENT_EXIT_ERROR;
	case 412:
		if (has_date) {
			int64_t off = (int64_t)(now_ms / 1000) - date_s;
			snprintf(msg, n, "your clock is %lld s off from the server's (%s); fix it and try again "
			         "(HTTP 412)",
			         (long long)(off < 0 ? -off : off), off < 0 ? "behind" : "ahead");
		} else {
			snprintf(msg, n, "the request time is outside the server's window: check your "
			         "clock (HTTP 412)");
		}
		return CLIENT_EXIT_AUTH;
	case 503:
		if (retry_after)
			snprintf(msg, n, "server busy, try again in %u s (HTTP 503)", retry_after);
		else
			snprintf(msg, n, "server busy, try again (HTTP 503)");
		return CLIENT_EXIT_NET;
	case 500:
		snprintf(msg, n, "the server at %s failed (HTTP 500)", hostport);
		return CLIENT_EXIT_NET;
	default:
		snprintf(msg, n, "unexpected answer from %s (HTTP %d)", hostport, status);
		return CLIENT_EXIT_NET;
	}
}

/* POSTs a sealed body and returns the HTTP answer; -1 with the error set. */
static int post(struct api *a, uint64_t ts, uint16_t url_uid, const uint8_t *body, size_t len,
                struct https_resp *resp, bool registering)
{
	char path[sizeof(API_PATH_PREFIX) + APIREQ_URL_TEXT_LEN];
	char url[APIREQ_URL_TEXT_LEN + 1];
	apireq_url_to_text(url, ts, url_uid);
	snprintf(path, sizeof(path), API_PATH_PREFIX "%s", url);
	memset(resp, 0, sizeof(*resp));
	if (https_post(a->https, path, body, len, resp, &a->up, &a->down) != 0) {
		snprintf(a->err, sizeof(a->err), "%s", https_message(a->https));
		a->exit_code = api_https_exit(https_error(a->https));
		return -1;
	}
	if (resp->status != 200) {
		a->exit_code = api_http_error(a->err, sizeof(a->err), resp->status, resp->has_date,
		                              resp->date, resp->retry_after, state_now_ms(),
		                              a->hostport, registering);
		https_resp_free(resp);
		return -1;
	}
	return 0;
}

static int next_ts(struct api *a, uint64_t *ts)
{
	char msg[API_ERR_MAX];
	if (state_next_ts(a->state_path, state_now_ms(), ts, NULL, msg, sizeof(msg)) != 0) {
		snprintf(a->err, sizeof(a->err), "%s", msg);
		a->exit_code = CLIENT_EXIT_ERROR;
		return -1;
	}
	return 0;
}

static int open_response(struct api *a, const uint8_t key[APIREQ_KEY_BYTES], uint64_t ts,
                         uint16_t url_uid, struct https_resp *resp, struct api_result *ret)
{
	uint8_t k_resp[APIREQ_KEY_BYTES];
	apireq_keys(NULL, k_resp, key, ts, url_uid);
	size_t cap = resp->body_len > APIREQ_OVERHEAD ? resp->body_len - APIREQ_OVERHEAD : 1;
	uint8_t *plain = xmalloc(cap);
	uint8_t status;
	const uint8_t *data;
	size_t dlen;
	int rc = apireq_response_open(plain, cap, k_resp, ts, url_uid, resp->body, resp->body_len,
	                              &status, &data, &dlen);
	sodium_memzero(k_resp, sizeof(k_resp));
	https_resp_free(resp);
	if (rc != 0) {
		free(plain);
		snprintf(a->err, sizeof(a->err),
		         "the answer from %s does not authenticate (not an allears server, or "
		         "tampered with)",
		         a->hostport);
		a->exit_code = CLIENT_EXIT_NET;
		return -1;
	}
	ret->status = status;
	ret->plain = plain;
	ret->plain_len = cap;
	ret->data = data;
	ret->data_len = dlen;
	return 0;
}

int api_call(struct api *a, uint8_t cmd, const uint8_t *args, size_t args_len,
             struct api_result *ret)
{
	size_t blen = apireq_body_len(args_len);
	if (!a->uak || blen == 0) {
		snprintf(a->err, sizeof(a->err), "request too large");
		a->exit_code = CLIENT_EXIT_ERROR;
		return -1;
	}
	uint8_t *body = xmalloc(blen);
	struct https_resp resp;
	uint64_t ts = 0;
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (next_ts(a, &ts) != 0)
			break;
		if (apireq_seal(body, blen, a->uak, ts, a->uid, cmd, 0, args, args_len) != 0) {
			snprintf(a->err, sizeof(a->err), "cannot seal the request");
			a->exit_code = CLIENT_EXIT_ERROR;
			break;
		}
		rc = post(a, ts, a->uid, body, blen, &resp, false);
		if (rc == 0 || !https_stale(a->https))
			break;
	}
	free(body);
	if (rc != 0)
		return -1;
	memset(ret, 0, sizeof(*ret));
	return open_response(a, a->uak, ts, a->uid, &resp, ret);
}

int api_call_ok(struct api *a, const char *what, uint8_t cmd, const uint8_t *args,
                size_t args_len, struct api_result *ret)
{
	if (api_call(a, cmd, args, args_len, ret) != 0)
		return -1;
	if (ret->status != CHST_OK) {
		snprintf(a->err, sizeof(a->err), "%s: %s", what, api_status_text(ret->status));
		a->exit_code = api_status_exit(ret->status);
		api_result_free(ret);
		return -1;
	}
	return 0;
}

int api_register(struct api *a, const uint8_t invite[APIREQ_INVITE_BYTES], uint16_t wanted_uid,
                 const uint8_t uak[APIREQ_KEY_BYTES], const uint8_t epk[APIREQ_EPK_BYTES],
                 uint16_t *ret_uid, uint8_t *ret_level)
{
	uint8_t body[APIREQ_REGISTER_BODY_BYTES];
	struct https_resp resp;
	uint64_t ts = 0;
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (next_ts(a, &ts) != 0)
			break;
		if (apireq_register_seal(body, invite, ts, APIREQ_UID_REGISTER, wanted_uid, uak, epk) !=
		    0) {
			snprintf(a->err, sizeof(a->err), "cannot seal the registration");
			a->exit_code = CLIENT_EXIT_ERROR;
			break;
		}
		rc = post(a, ts, APIREQ_UID_REGISTER, body, sizeof(body), &resp, true);
		if (rc == 0 || !https_stale(a->https))
			break;
	}
	if (rc != 0)
		return -1;
	uint8_t k_inv[APIREQ_KEY_BYTES];
	apireq_invite_key(k_inv, invite);
	struct api_result r = { 0 };
	rc = open_response(a, k_inv, ts, APIREQ_UID_REGISTER, &resp, &r);
	sodium_memzero(k_inv, sizeof(k_inv));
	if (rc != 0)
		return -1;
	if (r.status != CHST_OK) {
		const char *why = api_status_text(r.status);
		if (r.status == CHST_EXISTS)
			why = "that UserID is taken, or this key is already registered";
		else if (r.status == CHST_FORBIDDEN)
			why = "UserID 0 needs the master invitation";
		else if (r.status == CHST_INVALID)
			why = "the server refused the UserID asked for";
		snprintf(a->err, sizeof(a->err), "registration failed: %s", why);
		a->exit_code = api_status_exit(r.status);
		api_result_free(&r);
		return -1;
	}
	if (r.data_len != 3 || (uint16_t)(r.data[0] | r.data[1] << 8) >= 4096 || r.data[2] > 3) {
		snprintf(a->err, sizeof(a->err), "the server's registration answer is malformed");
		a->exit_code = CLIENT_EXIT_NET;
		api_result_free(&r);
		return -1;
	}
	*ret_uid = (uint16_t)(r.data[0] | r.data[1] << 8);
	*ret_level = r.data[2];
	api_result_free(&r);
	return 0;
}
