/* api.h: one API request as the client makes it (docs/PROTOCOL.md sections
 * 12 and 14): a fresh strictly increasing timestamp from the state file, the
 * request sealed with the UAK (apireq), POST /v1/<url> over HTTPS, the HTTP
 * status turned into a message the user can act on, and the response opened
 * with K_resp. */
#ifndef ALLEARS_CLIENT_API_H
#define ALLEARS_CLIENT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/config.h"
#include "client/https.h"
#include "common/apireq.h"
#include "common/util.h"

#define API_ERR_MAX 512
#define API_PATH_PREFIX "/v1/"

struct api {
	struct https_conn *https;
	char state_path[CONFIG_PATH_MAX];
	char hostport[CONFIG_HOST_MAX + 16];
	uint16_t uid;
	const uint8_t *uak;           /* APIREQ_KEY_BYTES, owned by the caller */
	struct https_progress up, down;
	char err[API_ERR_MAX];        /* set when a call fails */
	int exit_code;                /* CLIENT_EXIT_* for that failure */
};

/* A response: status (enum chan_status) and the data, pointing into plain. */
struct api_result {
	uint8_t status;
	uint8_t *plain;
	size_t plain_len;
	const uint8_t *data;
	size_t data_len;
};

/* -EINVAL with a message when the configuration has no server. */
int api_init(struct api *a, const struct config *cfg, const char *state_path) WUR;
void api_close(struct api *a);

/* Makes one request. 0: *ret holds the server's status and data (the status
 * may be a failure: see api_status_text). -1: a->err and a->exit_code say why
 * (network, HTTP status, an answer that does not authenticate). A request
 * whose reused connection turned out closed is retried once with a fresh
 * timestamp. */
int api_call(struct api *a, uint8_t cmd, const uint8_t *args, size_t args_len,
             struct api_result *ret) WUR;
/* api_call, then a failure status is an error too (a->err "what: text"). */
int api_call_ok(struct api *a, const char *what, uint8_t cmd, const uint8_t *args,
                size_t args_len, struct api_result *ret) WUR;
void api_result_free(struct api_result *r);

/* Registration (12.6) with an invitation: on success the new UserID and
 * level. */
int api_register(struct api *a, const uint8_t invite[APIREQ_INVITE_BYTES], uint16_t wanted_uid,
                 const uint8_t uak[APIREQ_KEY_BYTES], const uint8_t epk[APIREQ_EPK_BYTES],
                 uint16_t *ret_uid, uint8_t *ret_level) WUR;

/* The message and exit code for an HTTP status other than 200 (section 14.2).
 * now_ms is the local clock; the server's Date (Unix s) is used for 412. */
int api_http_error(char *msg, size_t n, int status, bool has_date, int64_t date_s,
                   unsigned retry_after, uint64_t now_ms, const char *hostport,
                   bool registering);
/* Text and exit code for a response status (enum chan_status). */
const char *api_status_text(uint8_t status);
int api_status_exit(uint8_t status);
/* Exit code for an https failure. */
int api_https_exit(enum https_error e);

#endif
